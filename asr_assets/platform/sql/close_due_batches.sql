-- Close the zone's open batch when it is full (files or audio), has waited max_wait_s, or fewer than max_in_flight
-- of the zone's batches are closed and unsettled (its calls would not wait for a run: close now). While that many
-- are waiting for or in a run, the batch gathers the calls landing meanwhile (ingest_batches_status_idx).
update asr_raw.ingest_batches
set closed_at = now(), status = case when file_count > 0 then 'closed' else 'succeeded' end, updated_at = now()
where closed_at is null
  and landing_url is not distinct from %(landing_url)s
  and (file_count >= %(max_files)s
       or audio_s >= %(max_audio_s)s
       or opened_at <= now() - make_interval(secs => %(max_wait_s)s)
       or (select count(*) from asr_raw.ingest_batches as busy
           where busy.status in ('closed', 'requested')
             and busy.landing_url is not distinct from %(landing_url)s) < %(max_in_flight)s)

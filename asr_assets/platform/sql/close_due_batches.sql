update asr_raw.ingest_batches
set closed_at = now(), status = case when file_count > 0 then 'closed' else 'succeeded' end, updated_at = now()
where closed_at is null
  and landing_url is not distinct from %(landing_url)s
  and (file_count >= %(max_files)s
       or audio_s >= %(max_audio_s)s
       or opened_at <= now() - make_interval(secs => %(max_wait_s)s))

-- Batches closed longer ago than the marts may lag whose run has not built the marts yet (not succeeded; the given
-- up ones are no_batch_given_up's), for the marts_fresh check. Uses ingest_batches_status_idx.
select partition_key, status, closed_at
from asr_raw.ingest_batches
where status in ('closed', 'requested', 'failed')
  and (landing_url = %(landing_url)s or landing_url is null)
  and closed_at < now() - make_interval(secs => %(max_lag_s)s)
order by closed_at
limit 50

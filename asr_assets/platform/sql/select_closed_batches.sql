-- Of these batches (loaded, not yet in the marts), those of the zone closed longer ago than the marts may lag, for
-- the marts_fresh check: their status says "succeeded" (transcribed and loaded), the marts say not yet.
select partition_key, 'loaded, not built' as status, closed_at
from asr_raw.ingest_batches
where partition_key = any(%(keys)s)
  and status = 'succeeded'
  and (landing_url = %(landing_url)s or landing_url is null)
  and closed_at < now() - make_interval(secs => %(max_lag_s)s)

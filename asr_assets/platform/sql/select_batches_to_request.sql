-- Closed batches of this landing zone that need a run: never requested, or failed and due for a retry.
-- Batches of an earlier version have no landing zone and belong to whichever deployment finds them.
select batch_id, partition_key, attempts
from asr_raw.ingest_batches
where (status = 'closed' or (status = 'failed' and next_attempt_at <= now()))
  and (landing_url = %(landing_url)s or landing_url is null)
order by batch_id
limit %(limit)s
for update skip locked

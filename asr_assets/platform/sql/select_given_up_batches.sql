-- Batches the sensor stopped retrying, for the no_batch_given_up check and for noticing an operator's fix.
select batch_id, partition_key, attempts, last_run_id, last_error, updated_at
from asr_raw.ingest_batches
where status = 'given_up' and (landing_url = %(landing_url)s or landing_url is null)
order by batch_id
limit %(limit)s

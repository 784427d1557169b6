select batch_id, partition_key, attempts, extract(epoch from now() - requested_at)
from asr_raw.ingest_batches
where status = 'requested' and (landing_url = %(landing_url)s or landing_url is null)
order by batch_id
limit %(limit)s

select batch_id, partition_key
from asr_raw.ingest_batches
where closed_at is not null and batch_id > %(after_batch_id)s and file_count > 0
order by batch_id
limit %(limit)s

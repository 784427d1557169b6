select batch_id, partition_key, file_count, audio_s
from asr_raw.ingest_batches
where closed_at is null and landing_url is not distinct from %(landing_url)s
order by batch_id desc
limit 1
for update

select count(*) from asr_raw.ingest_batches where partition_key = %(partition_key)s

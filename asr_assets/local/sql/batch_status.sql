select partition_key, status, attempts, last_error from asr_raw.ingest_batches where partition_key = any(%(k)s)

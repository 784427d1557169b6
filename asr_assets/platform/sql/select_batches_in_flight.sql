-- Batches with a run asked for and not settled: their steps may be writing the artifacts an erasure rewrites.
select partition_key from asr_raw.ingest_batches
where partition_key = any(%(partition_keys)s) and status = 'requested'

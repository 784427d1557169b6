-- Content erased on request that may not come back: `ingest` does not land it.
select checksum, max(erasure_id) from asr_raw.erasures where not reupload_allowed group by checksum

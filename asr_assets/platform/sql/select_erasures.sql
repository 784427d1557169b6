-- Erased content that may not come back (reupload_allowed is false), by checksum.
select checksum, max(erasure_id), max(erased_at)
from asr_raw.erasures
where checksum = any(%(checksums)s) and not reupload_allowed
group by checksum

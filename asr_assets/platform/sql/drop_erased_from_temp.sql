-- A load never brings back erased content (an artifact written before the erasure, a retried run).
delete from {temp} where {column} in (select e.checksum from asr_raw.erasures as e where not e.reupload_allowed)

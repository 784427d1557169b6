select erasure_id from asr_raw.erasures where checksum = %(checksum)s order by erasure_id

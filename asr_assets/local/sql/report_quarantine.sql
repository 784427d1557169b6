select checksum, reason_code, reason from asr_raw.quarantine where checksum = any(%(c)s)

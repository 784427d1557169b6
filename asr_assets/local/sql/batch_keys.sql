select checksum, partition_key from asr_raw.landed_files where checksum = any(%(c)s)

select source_uri, partition_key from asr_raw.landed_files where checksum = %(checksum)s

select checksum, file_name, source_uri, size_bytes, source_uri_bytes
from asr_raw.landed_files
where partition_key = %(partition_key)s
order by registered_at, checksum

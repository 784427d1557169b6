insert into asr_raw.landed_files
    (checksum, file_name, source_uri, source_uri_bytes, size_bytes, header_duration_s, batch_id, partition_key)
values
    (%(checksum)s, %(file_name)s, %(source_uri)s, %(source_uri_bytes)s, %(size_bytes)s, %(header_duration_s)s,
     %(batch_id)s, %(partition_key)s)

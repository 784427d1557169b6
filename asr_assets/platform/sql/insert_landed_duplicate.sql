insert into asr_raw.landed_duplicates (source_uri, checksum, file_name)
values (%(source_uri)s, %(checksum)s, %(file_name)s)
on conflict (source_uri, checksum) do nothing

-- A tick's new files in one statement (psycopg2.extras.execute_values fills in the VALUES list).
insert into asr_raw.landed_files
    (checksum, file_name, source_uri, source_uri_bytes, size_bytes, header_duration_s, batch_id, partition_key)
values %s

insert into asr_raw.ingest_batches (batch_id, partition_key, landing_url)
select id, to_char(now() at time zone 'utc', 'YYYYMMDD') || '-' || lpad(id::text, 6, '0'), %(landing_url)s
from (select nextval(pg_get_serial_sequence('asr_raw.ingest_batches', 'batch_id')) as id) as next_id
returning batch_id, partition_key, file_count, audio_s

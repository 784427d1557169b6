-- An erased file leaves its batch: the batch's counters stop counting it.
with gone as (
    delete from asr_raw.landed_files where checksum = %(checksum)s returning batch_id, header_duration_s
)
update asr_raw.ingest_batches as b
set file_count = b.file_count - 1, audio_s = greatest(b.audio_s - coalesce(gone.header_duration_s, 0), 0),
    updated_at = now()
from gone
where b.batch_id = gone.batch_id

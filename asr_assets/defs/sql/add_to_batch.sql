update asr_raw.ingest_batches
set file_count = file_count + 1, audio_s = audio_s + %(audio_s)s
where batch_id = %(batch_id)s

update asr_raw.ingest_batches
set file_count = file_count + %(files)s, audio_s = audio_s + %(audio_s)s
where batch_id = %(batch_id)s

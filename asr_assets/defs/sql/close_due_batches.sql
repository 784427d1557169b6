update asr_raw.ingest_batches
set closed_at = now()
where closed_at is null
  and (file_count >= %(max_files)s
       or audio_s >= %(max_audio_s)s
       or opened_at <= now() - make_interval(secs => %(max_wait_s)s))

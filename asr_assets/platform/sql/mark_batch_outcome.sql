update asr_raw.ingest_batches
set status = %(status)s, last_run_id = %(run_id)s, last_error = %(error)s,
    next_attempt_at = now() + make_interval(secs => %(retry_in_s)s), updated_at = now()
where batch_id = %(batch_id)s

update asr_raw.ingest_batches
set status = 'requested', attempts = attempts + 1, requested_at = now(), next_attempt_at = null,
    landing_url = coalesce(landing_url, %(landing_url)s), updated_at = now()
where batch_id = %(batch_id)s
returning attempts

update asr_raw.ingest_batches
set closed_at = now(), status = 'closed', updated_at = now()
where batch_id = %(batch_id)s and closed_at is null

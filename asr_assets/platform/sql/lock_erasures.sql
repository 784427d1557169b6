-- Taken exclusively by an erasure and shared by every partition load: a load in flight cannot put back rows of
-- content erased while it ran, and loads of different batches still run side by side.
select pg_advisory_xact_lock(hashtext('asr_raw.erasures'))

select pg_advisory_xact_lock(hashtext('asr_raw.landed_files'))

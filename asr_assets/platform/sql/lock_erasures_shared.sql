-- See lock_erasures.sql: a partition load takes it shared.
select pg_advisory_xact_lock_shared(hashtext('asr_raw.erasures'))

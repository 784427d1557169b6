-- One load of a partition at a time: a second run of the batch waits here, then its delete sees (and replaces)
-- the first one's rows instead of failing on their keys.
select pg_advisory_xact_lock(hashtext('asr_raw.load:' || %(partition_key)s))

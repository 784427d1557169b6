insert into asr_raw.erasures (checksum, partition_keys, requested_by, reason, removed)
values (%(checksum)s, %(partition_keys)s, %(requested_by)s, %(reason)s, %(removed)s)
returning erasure_id, erased_at, executed_by

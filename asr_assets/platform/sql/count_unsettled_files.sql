-- Files of the batch that are neither transcribed nor quarantined.
select count(*)
from asr_raw.landed_files as f
where f.partition_key = %(partition_key)s
  and not exists (select 1 from asr_raw.calls as c where c.call_id = f.checksum)
  and not exists (select 1 from asr_raw.quarantine as q where q.checksum = f.checksum)

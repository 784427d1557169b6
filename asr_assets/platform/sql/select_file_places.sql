-- Every landed file of the batch with the number of places it ended in: asr_raw.calls (by content) or
-- asr_raw.quarantine (by content, or by URI when the bytes seen differ: a file that vanished or changed).
select
    f.file_name,
    (
        select count(*) from asr_raw.calls as c
        where c.partition_key = f.partition_key and c.call_id = f.checksum
    ) + (
        select count(*) from asr_raw.quarantine as q
        where q.partition_key = f.partition_key and (q.checksum = f.checksum or q.source_uri = f.source_uri)
    ) as places
from asr_raw.landed_files as f
where f.partition_key = %(partition_key)s
order by f.file_name

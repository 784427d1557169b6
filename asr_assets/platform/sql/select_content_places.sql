-- Where one content (checksum) is held: its batches, and every landing URI it came under (with the real path's
-- bytes when the name is not UTF-8), so an erasure can remove the files before the rows that name them.
select f.partition_key, f.source_uri, f.source_uri_bytes from asr_raw.landed_files as f where f.checksum = %(checksum)s
union all
select f.partition_key, d.source_uri, null
from asr_raw.landed_duplicates as d
inner join asr_raw.landed_files as f on f.checksum = d.checksum
where d.checksum = %(checksum)s
union all
select c.partition_key, c.source_uri, null from asr_raw.calls as c where c.checksum = %(checksum)s
union all
select q.partition_key, q.source_uri, null from asr_raw.quarantine as q where q.checksum = %(checksum)s
union all
-- the landing sensor's record of a refused re-upload (no batch): erasing again removes that file too
select null, o.source_uri, null from asr_raw.landing_objects as o where o.checksum = %(checksum)s

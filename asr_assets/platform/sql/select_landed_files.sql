-- The registered files among a tick's hashed contents, in one round trip: one primary-key probe per checksum (the
-- lateral subquery with its limit is never merged into a join, so it is never a pass over the whole registry).
select registered.checksum, registered.source_uri, registered.partition_key
from unnest(%(checksums)s::text[]) as hashed (checksum)
cross join lateral (
    select f.checksum, f.source_uri, f.partition_key
    from asr_raw.landed_files as f
    where f.checksum = hashed.checksum
    limit 1
) as registered

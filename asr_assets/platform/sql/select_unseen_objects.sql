-- Listed files the registry has not seen in this form (a new URI, or a known one with another size or time).
-- One primary-key probe of landing_objects per listed entry (the lateral subquery with its limit is never merged
-- into a join): a tick costs what its listing holds, never a pass over every entry seen in the zone's history.
-- The backlog test EXPLAINs it (docs/dagster-ingest.md, "Backlog").
select listed.uri
from unnest(%(uris)s::text[], %(sizes)s::bigint[], %(modified)s::double precision[])
    as listed (uri, size_bytes, modified)
left join lateral (
    select seen.size_bytes, seen.modified, seen.outcome
    from asr_raw.landing_objects as seen
    where seen.source_uri = listed.uri
    limit 1
) as seen on true
where seen.outcome is null
   or seen.size_bytes <> listed.size_bytes
   or seen.modified <> listed.modified
   or seen.outcome = 'skipped'

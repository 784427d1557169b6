-- Listed files the registry has not seen in this form (a new URI, or a known one with another size or time).
select listed.uri
from unnest(%(uris)s::text[], %(sizes)s::bigint[], %(modified)s::double precision[])
    as listed (uri, size_bytes, modified)
left join asr_raw.landing_objects as seen on seen.source_uri = listed.uri
where seen.source_uri is null
   or seen.size_bytes <> listed.size_bytes
   or seen.modified <> listed.modified
   or seen.outcome = 'skipped'

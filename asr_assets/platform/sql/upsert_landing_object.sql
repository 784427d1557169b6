insert into asr_raw.landing_objects as seen (source_uri, size_bytes, modified, checksum, outcome, reason)
values (%(source_uri)s, %(size_bytes)s, %(modified)s, %(checksum)s, %(outcome)s, %(reason)s)
on conflict (source_uri) do update
set size_bytes = excluded.size_bytes,
    modified = excluded.modified,
    checksum = excluded.checksum,
    outcome = excluded.outcome,
    reason = excluded.reason,
    last_seen_at = now()

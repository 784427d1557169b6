-- Recovery without a person: each batch has a durable status, the sensor's retries are counted against it, and
-- discovery is driven by what the registry has seen (not by the listing's modification times).

-- A batch belongs to one landing zone (its URL, credentials never included): another deployment pointed at the
-- same database does not request it.
alter table asr_raw.ingest_batches
    add column landing_url text,
    -- open: taking files | closed: full, no run yet | requested: a run was asked for (attempts counts them)
    -- succeeded: a run finished and every file is in calls or quarantine | failed: retried at next_attempt_at
    -- given_up: failed `attempts` times; last_error says why (an operator re-materialises it or raises the bound)
    add column status text not null default 'open'
        check (status in ('open', 'closed', 'requested', 'succeeded', 'failed', 'given_up')),
    add column attempts integer not null default 0,
    add column next_attempt_at timestamptz,
    add column requested_at timestamptz,
    add column last_run_id text,
    add column last_error text,
    add column updated_at timestamptz not null default now();

-- Batches of an earlier version: closed ones had their run requested once (the old cursor did it); the sensor
-- now checks that run like any other.
update asr_raw.ingest_batches
set status = 'requested', attempts = 1, requested_at = closed_at
where closed_at is not null and file_count > 0;
update asr_raw.ingest_batches set status = 'succeeded' where closed_at is not null and file_count = 0;

create index ingest_batches_status_idx on asr_raw.ingest_batches (status)
    where status in ('closed', 'requested', 'failed');

-- A name that is not valid UTF-8 (Latin-1 from SMB or FTP uploaders) is stored readable in source_uri
-- (undecodable bytes as \xNN) and exactly here, so the file can still be opened.
alter table asr_raw.landed_files add column source_uri_bytes bytea;

-- Every entry the sensor has listed, by URI: a file is new when its (size, modification time) is not here,
-- whatever that time is (mv, cp -p, rsync -a and SMB copies keep old times). Entries not taken are recorded with a
-- reason (symlink, temporary name, unreadable, vanished, ...) so nothing is skipped silently.
create table asr_raw.landing_objects (
    source_uri text primary key,
    size_bytes bigint not null,
    modified double precision not null,
    checksum text,
    -- registered | duplicate | known | refused | skipped
    outcome text not null,
    reason text,
    first_seen_at timestamptz not null default now(),
    last_seen_at timestamptz not null default now()
);
create index landing_objects_outcome_idx on asr_raw.landing_objects (outcome) where outcome <> 'registered';

-- The durable status of every landed file: transcribed, quarantined, or still with its batch.
create view asr_raw.landed_file_status as
select
    f.checksum,
    f.file_name,
    f.source_uri,
    f.partition_key,
    case
        when c.call_id is not null then 'transcribed'
        when q.checksum is not null then 'quarantined'
        else 'pending'
    end as status,
    b.status as batch_status,
    b.attempts as batch_attempts,
    b.last_error as batch_error
from asr_raw.landed_files as f
inner join asr_raw.ingest_batches as b on b.batch_id = f.batch_id
left join asr_raw.calls as c on c.call_id = f.checksum
left join lateral (
    select q.checksum from asr_raw.quarantine as q where q.checksum = f.checksum limit 1
) as q on true;

revoke all on all tables in schema asr_raw from analyst;

-- Erasure on request (`asr-assets erase`): the proof that a call was removed, kept where analysts cannot read it.
-- A record names the content (its sha256, which is also the call id) and what was removed, never the file name
-- or any transcript text: the record must not keep what it proves was erased.
create table asr_raw.erasures (
    erasure_id bigserial primary key,
    checksum text not null,  -- sha256 of the erased content = the call id
    partition_keys text[] not null,  -- the ingest batches that held it (empty when it was only registered)
    requested_by text not null,  -- who asked (--requested-by), e.g. a ticket or the data-protection officer
    executed_by text not null default current_user,  -- the database role that ran it
    reason text,
    erased_at timestamptz not null default now(),
    removed jsonb not null,  -- rows per table and files per kind, e.g. {"asr_raw.words": 312, "files": {...}}
    -- false: a later upload of the same content is refused by the landing sensor (landing_objects outcome
    -- 'refused'). An administrator sets it true, with the customer's consent, to let the content in again.
    reupload_allowed boolean not null default false
);
create index erasures_checksum_idx on asr_raw.erasures (checksum);

revoke all on asr_raw.erasures from analyst;

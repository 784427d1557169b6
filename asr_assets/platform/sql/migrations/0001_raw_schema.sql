-- asr_raw: what the ingest assets load, one partition (ingest batch) at a time, plus the landing registry.
-- Times are seconds from the start of the recording. partition_key is the Dagster partition (ingest batch) that
-- wrote the row: reloading a partition deletes and re-inserts exactly its rows.

-- The landing registry: which batch each landed file belongs to, keyed by content so a re-upload under another name
-- is never transcribed twice, and durable so a lost sensor cursor cannot regroup files into new partitions.
create table asr_raw.ingest_batches (
    batch_id bigserial primary key,
    partition_key text not null unique,
    opened_at timestamptz not null default now(),
    closed_at timestamptz,
    file_count integer not null default 0,
    audio_s double precision not null default 0
);

create table asr_raw.landed_files (
    checksum text primary key,  -- sha256 hex of the file's bytes
    file_name text not null,
    source_uri text not null,
    size_bytes bigint not null,
    header_duration_s double precision,  -- from the header at landing time (batch sizing); null if unreadable
    batch_id bigint not null references asr_raw.ingest_batches (batch_id),
    partition_key text not null,
    registered_at timestamptz not null default now()
);
create index landed_files_partition_key_idx on asr_raw.landed_files (partition_key);
create index landed_files_source_uri_idx on asr_raw.landed_files (source_uri);

-- Files whose content was already registered under another name (or landed again): never transcribed twice.
create table asr_raw.landed_duplicates (
    source_uri text not null,
    checksum text not null references asr_raw.landed_files (checksum),
    file_name text not null,
    seen_at timestamptz not null default now(),
    primary key (source_uri, checksum)
);

create table asr_raw.calls (
    call_id text primary key,  -- = checksum: a call is its content
    file_name text not null,
    source_uri text not null,
    partition_key text not null,
    duration_s double precision not null,
    sample_rate integer not null,  -- of the source file
    channels smallint not null,
    source_format text not null,  -- libsndfile FORMAT/SUBTYPE, e.g. WAV/ULAW
    size_bytes bigint not null,
    checksum text not null unique,
    model_version text not null,
    transcribed_at timestamptz not null,
    loaded_at timestamptz not null default now()
);
create index calls_partition_key_idx on asr_raw.calls (partition_key);

create table asr_raw.channels (
    call_id text not null references asr_raw.calls (call_id) on delete cascade,
    channel smallint not null,
    partition_key text not null,
    duration_s double precision not null,
    peak_dbfs double precision,  -- null for digital silence (-inf)
    segment_count integer not null,
    word_count integer not null,
    primary key (call_id, channel)
);
create index channels_partition_key_idx on asr_raw.channels (partition_key);

create table asr_raw.segments (
    call_id text not null,
    channel smallint not null,
    segment_index integer not null,  -- order within the channel
    partition_key text not null,
    start_s double precision not null,
    end_s double precision not null,
    text text not null,
    avg_logprob double precision not null,
    no_speech_prob double precision not null,
    compression_ratio double precision,
    temperature double precision,
    primary key (call_id, channel, segment_index),
    foreign key (call_id, channel) references asr_raw.channels (call_id, channel) on delete cascade
);
create index segments_partition_key_idx on asr_raw.segments (partition_key);

create table asr_raw.words (
    call_id text not null,
    channel smallint not null,
    word_index integer not null,  -- order within the channel
    segment_index integer not null,
    partition_key text not null,
    word text not null,
    start_s double precision not null,
    end_s double precision not null,
    probability double precision not null,
    primary key (call_id, channel, word_index),
    foreign key (call_id, channel, segment_index)
        references asr_raw.segments (call_id, channel, segment_index) on delete cascade
);
create index words_partition_key_idx on asr_raw.words (partition_key);

create table asr_raw.quarantine (
    checksum text not null,  -- sha256 of the bytes seen; of b'' when the file was missing
    file_name text not null,
    source_uri text not null,
    partition_key text not null,
    reason_code text not null,  -- empty | undecodable | unsupported_format | silent | too_long | missing | changed
    reason text not null,
    size_bytes bigint,
    quarantined_at timestamptz not null default now(),
    primary key (checksum, source_uri)
);
create index quarantine_partition_key_idx on asr_raw.quarantine (partition_key);

-- asr_raw.words grows by ~1.4 billion rows a year at 2 M calls (~700 words per call), asr_raw.segments by ~70
-- million: both become partitioned by RANGE of partition_key, one partition per month of the batch (the registry's
-- keys are YYYYMMDD-NNNNNN, the UTC day the batch opened). A batch's load, reload and the marts' reads name its
-- partition_key, so they touch one month's partition, whose indexes stay the size of a month however many years the
-- table holds; old months are rarely written again (a reload, an erasure), so VACUUM skips them once they are
-- all-visible, and retention drops a month instead of deleting a hundred million rows. Hash partitions would all
-- grow forever; one partition per batch (tens of thousands) would make planning and locking cost grow with their
-- count. Keys of another form (tests, hand-made partitions) go to the default partition. BENCHMARKS.md,
-- "PostgreSQL at a bank's volume", has the measurements behind the choice.
-- calls, channels and quarantine stay plain tables (one row per call or channel: ~700 times fewer rows), so
-- calls.call_id stays one primary key over all batches: a call's content is held once.
--
-- Existing rows are moved in this migration, its transaction holding the tables meanwhile: 98 s for 20 million words
-- on the 2-core development machine, so about two hours per year of bank volume (1.4 billion words). Views on the
-- two tables (dbt's staging views) are created again with their definitions, owners and grants; dbt renews their
-- comments at its next build.

-- Keys name the batch: a segment's and a word's channel row is in the same batch as the row itself, and the
-- cascade from a deleted channel looks in one partition.
alter table asr_raw.channels add constraint channels_batch_key unique (call_id, channel, partition_key);

-- A month's partitions of both tables, created when the first batch of the month is loaded (raw_tables calls it
-- in the load's transaction; a no-op afterwards). Created standalone, then attached: ATTACH PARTITION locks the
-- parent SHARE UPDATE EXCLUSIVE, so loads of other batches go on meanwhile (CREATE TABLE ... PARTITION OF would lock
-- it ACCESS EXCLUSIVE). Attaching builds the partition's indexes and foreign keys from the parent's.
create function asr_raw.create_month_partitions(batch_key text) returns void
language plpgsql as $$
declare
    month text := substring(batch_key from '^([0-9]{4}(?:0[1-9]|1[0-2]))[0-9]{2}-');
    next_month text;
    parent text;
    part text;
begin
    if month is null then
        return;  -- not a registry key: the default partition holds it
    end if;
    next_month := to_char(to_date(month, 'YYYYMM') + interval '1 month', 'YYYYMM');
    foreach parent in array array['segments', 'words'] loop
        part := parent || '_' || month;
        continue when to_regclass(format('asr_raw.%I', part)) is not null;
        begin
            execute format('create table asr_raw.%I (like asr_raw.%I including defaults)', part, parent);
            execute format(
                'alter table asr_raw.%I attach partition asr_raw.%I for values from (%L) to (%L)',
                parent, part, month, next_month
            );
        exception
            when duplicate_table or unique_violation then null;  -- a concurrent load created it first
        end;
    end loop;
end
$$;
revoke all on function asr_raw.create_month_partitions(text) from public;

-- Views reading either table, kept to be created again on the new tables.
create temp table migration_0008_views on commit drop as
select distinct
    c.oid,
    n.nspname as view_schema,
    c.relname as view_name,
    pg_get_viewdef(c.oid) as definition,
    pg_get_userbyid(c.relowner) as owner,
    obj_description(c.oid, 'pg_class') as description,
    c.relacl
from pg_depend as d
inner join pg_rewrite as r on r.oid = d.objid
inner join pg_class as c on c.oid = r.ev_class
inner join pg_namespace as n on n.oid = c.relnamespace
where d.classid = 'pg_rewrite'::regclass
    and d.refclassid = 'pg_class'::regclass
    and d.refobjid in ('asr_raw.words'::regclass, 'asr_raw.segments'::regclass)
    and c.relkind = 'v';

do $$
declare
    v record;
begin
    -- A view on one of these views is not dropped for it: the migration stops here and names it.
    for v in select * from migration_0008_views loop
        execute format('drop view %I.%I', v.view_schema, v.view_name);
    end loop;
end
$$;

-- The old tables give up their names (and their indexes' names) and are dropped once their rows are moved.
alter table asr_raw.words rename to words_0007;
alter index asr_raw.words_pkey rename to words_0007_pkey;
alter index asr_raw.words_partition_key_idx rename to words_0007_partition_key_idx;
alter table asr_raw.segments rename to segments_0007;
alter index asr_raw.segments_pkey rename to segments_0007_pkey;
alter index asr_raw.segments_partition_key_idx rename to segments_0007_partition_key_idx;

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
    temperature double precision
) partition by range (partition_key);
create table asr_raw.segments_default partition of asr_raw.segments default;

create table asr_raw.words (
    call_id text not null,
    channel smallint not null,
    word_index integer not null,  -- order within the channel
    segment_index integer not null,
    partition_key text not null,
    word text not null,
    start_s double precision not null,
    end_s double precision not null,
    probability double precision not null
) partition by range (partition_key);
create table asr_raw.words_default partition of asr_raw.words default;

select asr_raw.create_month_partitions(k.partition_key)
from (
    select min(partition_key) as partition_key
    from asr_raw.segments_0007
    group by substring(partition_key from '^([0-9]{4}(?:0[1-9]|1[0-2]))[0-9]{2}-')
) as k;

-- Rows first, keys and indexes after: building an index once is faster than growing it row by row.
insert into asr_raw.segments
select
    call_id, channel, segment_index, partition_key, start_s, end_s, text, avg_logprob, no_speech_prob,
    compression_ratio, temperature
from asr_raw.segments_0007;
insert into asr_raw.words
select call_id, channel, word_index, segment_index, partition_key, word, start_s, end_s, probability
from asr_raw.words_0007;
drop table asr_raw.words_0007;
drop table asr_raw.segments_0007;

-- A primary key of a partitioned table holds its partition column; call_id leads, so an erasure's lookup by call
-- (which names no batch) is one probe per partition. The batch index holds call_id too: a month's partition holds
-- hundreds of batches, and a batch new since the partition's last ANALYZE looks rare to the planner, which then
-- probed (partition_key) alone for each channel a reload deleted (the foreign keys' cascade: 280,000 rows read per
-- channel, 8 s a reload); with call_id, a probe reads one call's rows whichever index it takes.
alter table asr_raw.segments add primary key (call_id, channel, segment_index, partition_key);
create index segments_partition_key_call_id_idx on asr_raw.segments (partition_key, call_id);
alter table asr_raw.segments add foreign key (call_id, channel, partition_key)
    references asr_raw.channels (call_id, channel, partition_key) on delete cascade;

-- A word's foreign key names its channel (a plain table), no longer its segment: PostgreSQL 15 checks a key against
-- a partitioned table row by row through its partition routing, which made a batch's insert of 280,000 words four
-- to five times slower (BENCHMARKS.md). The segment a word names is the load's own (build_rows makes both from the
-- same transcript); the rows_consistent check counts every channel's segments and words after each load.
alter table asr_raw.words add primary key (call_id, channel, word_index, partition_key);
create index words_partition_key_call_id_idx on asr_raw.words (partition_key, call_id);
alter table asr_raw.words add foreign key (call_id, channel, partition_key)
    references asr_raw.channels (call_id, channel, partition_key) on delete cascade;

do $$
declare
    v record;
    g record;
begin
    for v in select * from migration_0008_views order by oid loop
        execute format('create view %I.%I as %s', v.view_schema, v.view_name, v.definition);
        execute format('alter view %I.%I owner to %I', v.view_schema, v.view_name, v.owner);
        if v.description is not null then
            execute format('comment on view %I.%I is %L', v.view_schema, v.view_name, v.description);
        end if;
        for g in
            select a.privilege_type, a.grantee
            from aclexplode(v.relacl) as a
            where a.grantee <> (select r.oid from pg_roles as r where r.rolname = v.owner)
        loop
            execute format(
                'grant %s on %I.%I to %s',
                g.privilege_type, v.view_schema, v.view_name,
                case when g.grantee = 0 then 'public' else quote_ident(pg_get_userbyid(g.grantee)) end
            );
        end loop;
    end loop;
end
$$;

-- The raw schema stays closed to analysts (0002), the new tables and partitions included.
revoke all on all tables in schema asr_raw from analyst;

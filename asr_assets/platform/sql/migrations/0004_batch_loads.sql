-- The marts follow every change of a batch, deletes included. A batch's marts rows are rebuilt when its load
-- here changes; a batch whose load holds no call any more (every file quarantined on a rerun, or its calls
-- erased) has its marts rows deleted. Without this table an emptied batch left no row for dbt to notice and
-- the marts kept calls the raw tables no longer had.
create table asr_raw.batch_loads (
    partition_key text primary key,
    loaded_at timestamptz not null,  -- the load transaction's start; changes on every reload or erasure
    call_count integer not null,
    quarantine_count integer not null
);

insert into asr_raw.batch_loads (partition_key, loaded_at, call_count, quarantine_count)
select
    coalesce(c.partition_key, q.partition_key),
    coalesce(c.loaded_at, now()),
    coalesce(c.call_count, 0),
    coalesce(q.quarantine_count, 0)
from (
    select partition_key, max(loaded_at) as loaded_at, count(*) as call_count
    from asr_raw.calls group by partition_key
) as c
full join (
    select partition_key, count(*) as quarantine_count from asr_raw.quarantine group by partition_key
) as q on q.partition_key = c.partition_key;

revoke all on asr_raw.batch_loads from analyst;

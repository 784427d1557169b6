-- The batch's load (raw_tables, erasure): dbt rebuilds or empties the batch's marts rows when this changes.
insert into asr_raw.batch_loads as b (partition_key, loaded_at, call_count, quarantine_count)
values (
    %(partition_key)s,
    now(),
    (select count(*) from asr_raw.calls where partition_key = %(partition_key)s),
    (select count(*) from asr_raw.quarantine where partition_key = %(partition_key)s)
)
on conflict (partition_key) do update
set loaded_at = excluded.loaded_at, call_count = excluded.call_count, quarantine_count = excluded.quarantine_count

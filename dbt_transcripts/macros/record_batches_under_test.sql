{#- Pre-hook of the staging models (dbt_project.yml): which ingest batches this `dbt build` (re)builds, kept in
    asr_staging.batches_under_test for its data tests to read only their rows (batches_under_test): a batch's build
    then costs its own size, not the tables' (asr_raw.words grows by ~1.4 billion rows a year at 2 M calls;
    BENCHMARKS.md, "PostgreSQL at a bank's volume"). Every mart reads all three staging models, and a build runs a
    model's tests before anything downstream, so the staging models run before any mart is built: a batch is under
    test when an incremental mart does not hold its current load, as get_pending_batch_keys finds it, over every
    mart. Rows per invocation: '' says the batches were recorded, '*' that every batch is under test (a mart not
    built yet); a second build meanwhile keeps its own, and a day's are kept. Nothing is recorded by other
    commands (`dbt test`: whole tables) or a full refresh. -#}
{% macro record_batches_under_test() -%}
    {%- if execute and flags.WHICH == 'build' and not flags.FULL_REFRESH -%}
        {%- set marts = [] -%}
        {%- set missing = [] -%}
        {%- for node in graph.nodes.values() -%}
            {%- if node.resource_type == 'model' and node.config.materialized == 'incremental' -%}
                {%- set relation = adapter.get_relation(node.database, node.schema, node.alias) -%}
                {%- do (marts if relation else missing).append(relation or node.name) -%}
            {%- endif -%}
        {%- endfor -%}
        {%- set under_test = batches_under_test_table() -%}
-- the staging models run this side by side: one at a time, so one creates the table
select pg_advisory_xact_lock(hashtext('{{ under_test }}'));
create table if not exists {{ under_test }} (
    invocation_id text not null,
    partition_key text not null,
    recorded_at timestamptz not null default now(),
    primary key (invocation_id, partition_key)
);
delete from {{ under_test }} where recorded_at < now() - interval '1 day';
insert into {{ under_test }} (invocation_id, partition_key)
        {%- if missing %}
values ('{{ invocation_id }}', ''), ('{{ invocation_id }}', '*')
        {%- else %}
select '{{ invocation_id }}', ''
union all
select '{{ invocation_id }}', loads.partition_key
from {{ source('asr_raw', 'batch_loads') }} as loads
where
            {%- for mart in marts %}
    {{ "or " if not loop.first }}not exists (
        select 1 from {{ mart }} as built
        where built.partition_key = loads.partition_key and built.batch_loaded_at = loads.loaded_at
    )
            {%- endfor %}
        {%- endif %}
on conflict do nothing
    {%- endif -%}
{%- endmacro %}

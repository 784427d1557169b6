{#- The rows of `relation` a data test reads: in a `dbt build`, those of the batches it (re)builds
    (record_batches_under_test), as `(select * from relation where partition_key in (<keys>))`, the keys written
    as literals so PostgreSQL reads them through the partition_key indexes (and one partition of a partitioned
    table); the relation itself when it has no partition_key or whole tables are tested. Generic tests get it
    through get_where_subquery; a singular test writes `from {{ batches_under_test(ref('x')) }} as x`. Each batch's
    rows were tested when it was built, so a build tests no batch it did not touch. -#}
{% macro batches_under_test(relation) -%}
    {%- set keys = _batch_keys_under_test() -%}
    {%- if keys is none or not _has_partition_key(relation) -%}
        {{- return(relation) -}}
    {%- endif -%}
    {%- set condition = _partition_keys_in(keys, 'partition_key') -%}
    {{- return('(select * from ' ~ relation ~ ' where ' ~ condition ~ ')') -}}
{%- endmacro %}


{#- The keys recorded for this invocation (record_batches_under_test), or none (whole tables): not a build, a full
    refresh, `--vars '{test_whole_tables: true}'`, nothing recorded (a build that selected no staging model), or a
    mart was not built yet ('*'). -#}
{% macro _batch_keys_under_test() -%}
    {%- if not execute or flags.WHICH != 'build' or flags.FULL_REFRESH or var('test_whole_tables') -%}
        {{- return(none) -}}
    {%- endif -%}
    {%- set table = batches_under_test_table() -%}
    {%- if adapter.get_relation(table.database, table.schema, table.identifier) is none -%}
        {{- return(none) -}}
    {%- endif -%}
    {%- set query -%}
        select partition_key from {{ table }} where invocation_id = '{{ invocation_id }}' order by partition_key
    {%- endset -%}
    {%- set keys = run_query(query).columns[0].values() | list -%}
    {%- if '' not in keys or '*' in keys -%}
        {{- return(none) -}}
    {%- endif -%}
    {{- return(keys | reject('equalto', '') | list) -}}
{%- endmacro %}


{% macro _has_partition_key(relation) -%}
    {%- if relation is string -%}
        {{- return(false) -}}
    {%- endif -%}
    {%- set columns = adapter.get_columns_in_relation(relation) | map(attribute='name') | list -%}
    {{- return('partition_key' in columns) -}}
{%- endmacro %}


{% macro batches_under_test_table() -%}
    {{- return(api.Relation.create(database=target.database, schema='asr_staging', identifier='batches_under_test')) -}}
{%- endmacro %}

{#- The ingest batches an incremental model still has to (re)build, as a list of partition keys: every batch
    whose current load (partition_key, loaded_at) is not in the model yet. A reloaded batch has a new
    loaded_at, so it is rebuilt; comparing whole loads instead of a high-water mark means a batch whose load
    transaction committed after a later batch's is never skipped. Each batch costs one probe of the model's
    (partition_key, batch_loaded_at) index (create_batch_index). Run at execution time, so the model's SQL gets
    the keys as literals and PostgreSQL reads only those batches through the partition_key indexes. -#}
{% macro get_pending_batch_keys() -%}
    {%- if not execute or not is_incremental() -%}
        {{ return([]) }}
    {%- endif -%}
    {%- set pending_sql -%}
        with batches as (
            select partition_key, max(loaded_at) as batch_loaded_at
            from {{ ref('stg_calls') }}
            group by partition_key
        )
        select partition_key
        from batches
        where not exists (
            select 1 from {{ this }} as built
            where built.partition_key = batches.partition_key
                and built.batch_loaded_at = batches.batch_loaded_at
        )
        order by partition_key
    {%- endset -%}
    {{ return(run_query(pending_sql).columns[0].values() | list) }}
{%- endmacro %}

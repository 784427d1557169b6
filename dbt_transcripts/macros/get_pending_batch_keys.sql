{#- The ingest batches an incremental model still has to (re)build or empty, as a list of partition keys:
      - a batch holding calls whose current load (stg_batch_loads: partition_key, loaded_at) is not in the
        model yet: new, reloaded, or changed by an erasure (each gets a new loaded_at);
      - a batch holding no call any more (every file quarantined on a rerun, its calls erased) whose rows the
        model still has: delete_pending_batches removes them.
    Comparing whole loads instead of a high-water mark means a batch whose load transaction committed after a
    later batch's is never skipped. Each batch costs one probe of the model's (partition_key, batch_loaded_at)
    index (create_batch_index). Run at execution time, so the model's SQL gets the keys as literals and
    PostgreSQL reads only those batches through the partition_key indexes. -#}
{% macro get_pending_batch_keys() -%}
    {%- if not execute or not is_incremental() -%}
        {{ return([]) }}
    {%- endif -%}
    {%- set pending_sql -%}
        select loads.partition_key
        from {{ ref('stg_batch_loads') }} as loads
        where case
            when loads.call_count > 0 then not exists (
                select 1 from {{ this }} as built
                where built.partition_key = loads.partition_key
                    and built.batch_loaded_at = loads.loaded_at
            )
            else exists (select 1 from {{ this }} as built where built.partition_key = loads.partition_key)
        end
        order by loads.partition_key
    {%- endset -%}
    {{ return(run_query(pending_sql).columns[0].values() | list) }}
{%- endmacro %}

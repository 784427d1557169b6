{#- The ingest batches an incremental model still has to (re)build: every batch whose current load
    (partition_key, loaded_at) is not in the model yet. A reloaded batch has a new loaded_at, so it is
    rebuilt; comparing whole loads instead of a high-water mark means a batch whose load transaction
    committed after a later batch's is never skipped. Each batch costs one probe of the model's
    (partition_key, batch_loaded_at) index (create_batch_index), not a scan of its rows. -#}
{% macro select_pending_batches() -%}
    with batches as (
        select partition_key, max(loaded_at) as batch_loaded_at
        from {{ ref('stg_calls') }}
        group by partition_key
    )
    select partition_key, batch_loaded_at
    from batches
    {% if is_incremental() -%}
    where not exists (
        select 1 from {{ this }} as built
        where built.partition_key = batches.partition_key
            and built.batch_loaded_at = batches.batch_loaded_at
    )
    {%- endif %}
{%- endmacro %}

{#- Pre-hook of the marts folder (dbt_project.yml): delete the rows of every batch about to be rebuilt, in the
    model's transaction, by their keys (literals: the batch index finds them). The only delete of a build: the
    marts then append the new rows (incremental_strategy append), and a batch left with no call (all quarantined
    on a rerun, or erased) loses its rows here. Nothing on a first build or for a mart that is not incremental. -#}
{% macro delete_pending_batches() -%}
    {%- if execute and config.get('materialized') == 'incremental' and is_incremental() -%}
        delete from {{ this }} where {{ _pending_batch_condition(get_pending_batch_keys(), 'partition_key') }}
    {%- endif -%}
{%- endmacro %}

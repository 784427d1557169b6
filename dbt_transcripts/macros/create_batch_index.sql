{#- Post-hook of the marts folder (dbt_project.yml): the index get_pending_batch_keys probes and the deletes
    of a reloaded batch uses. Nothing for a mart that is not incremental (dim_model_versions). -#}
{% macro create_batch_index() -%}
    {%- if config.get('materialized') == 'incremental' -%}
        create index if not exists {{ this.identifier }}_batch_idx on {{ this }} (partition_key, batch_loaded_at)
    {%- endif -%}
{%- endmacro %}

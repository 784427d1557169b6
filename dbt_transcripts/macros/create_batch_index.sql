{#- Post-hook for incremental models: the index get_pending_batch_keys probes and the delete+insert of a
    reloaded batch uses. -#}
{% macro create_batch_index() -%}
    create index if not exists {{ this.identifier }}_batch_idx on {{ this }} (partition_key, batch_loaded_at)
{%- endmacro %}

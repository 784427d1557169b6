{#- Post-hook of the marts folder (dbt_project.yml): an index on call_id, for an erasure (asr_assets/platform/erasure.py
    deletes a call's rows from every dbt table with a call_id column at once), which would otherwise read the whole
    mart for each call it erases. Calls' rows sit together, so B-tree deduplication keeps it small. Nothing for a
    mart without call_id. -#}
{% macro create_call_index() -%}
    {%- if execute and config.get('materialized') == 'incremental'
        and 'call_id' in (adapter.get_columns_in_relation(this) | map(attribute='name') | list) -%}
        create index if not exists {{ this.identifier }}_call_idx on {{ this }} (call_id)
    {%- endif -%}
{%- endmacro %}

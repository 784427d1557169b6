{#- Schemas are named in dbt_project.yml (asr_staging, asr_marts) and used as they are: the analyst role's
    grants (migration 0002) name them, so they must not get dbt's default "<target schema>_" prefix. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {{ custom_schema_name | trim if custom_schema_name else target.schema }}
{%- endmacro %}

{#- dbt's own (global_project, materializations/tests/where_subquery.sql), overridden: a generic data test reads the
    rows batches_under_test gives, then its `where` config if it has one. -#}
{% macro get_where_subquery(relation) -%}
    {%- set where = config.get('where') -%}
    {%- set tested = batches_under_test(relation) -%}
    {%- if where -%}
        {{- return('(select * from ' ~ tested ~ ' as tested where ' ~ where ~ ') dbt_subquery') -}}
    {%- elif tested is string -%}
        {{- return(tested ~ ' dbt_subquery') -}}
    {%- else -%}
        {{- return(tested) -}}
    {%- endif -%}
{%- endmacro %}

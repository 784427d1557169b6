{#- Fails on rows where the SQL expression is not true (dbt_utils' test of the same name, which would need
    `dbt deps` from hub.getdbt.com). -#}
{% test expression_is_true(model, expression, column_name=none) %}

select *
from {{ model }}
where not coalesce(({{ expression }}), false)

{% endtest %}

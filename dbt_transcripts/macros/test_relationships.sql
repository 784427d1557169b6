{#- dbt's relationships test (global_project, generic_test_sql/relationships.sql) with the parent read like the
    child, through batches_under_test: every relationship of this project lies inside one batch (a word, a span, an
    utterance or a search row is loaded with its call), so a build reads the parent's rows of its own batches, not
    the whole of fct_calls. A parent without partition_key (dim_model_versions) is read whole. -#}
{% macro default__test_relationships(model, column_name, to, field) %}

with child as (
    select {{ column_name }} as from_field
    from {{ model }}
    where {{ column_name }} is not null
),

parent as (
    select {{ field }} as to_field
    from {{ batches_under_test(to) }} as parent_rows
)

select
    from_field

from child
left join parent
    on child.from_field = parent.to_field

where parent.to_field is null

{% endmacro %}

{#- A where-clause condition keeping the rows of the batches an incremental model must (re)build
    (get_pending_batch_keys), or every row on a full build. -#}
{% macro filter_pending_batches(column='partition_key') -%}
    {%- if is_incremental() -%}
        {%- set keys = get_pending_batch_keys() -%}
        {{ column }} in (
            {%- for key in keys -%}
                '{{ key | replace("'", "''") }}'{{ ", " if not loop.last }}
            {%- else -%}
                null
            {%- endfor -%}
        )
    {%- else -%}
        true
    {%- endif -%}
{%- endmacro %}

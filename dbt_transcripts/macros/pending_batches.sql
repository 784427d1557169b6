{#- The import CTEs of an incremental mart, limited to the ingest batches it must (re)build:

        with

        {{ pending_batches(stg_words=ref('stg_words')) }},

        words as (select ... from stg_words inner join calls on stg_words.call_id = calls.call_id),

    gives
      pending_batches  (partition_key, batch_loaded_at) of every batch to build (stg_batch_loads);
      calls            stg_calls of those batches, plus batch_loaded_at;
      one CTE per keyword argument, named by the keyword: the relation's rows of those batches (its
                       partition_key in the pending keys, as literals, so PostgreSQL reads only those batches
                       through the partition_key indexes).
    On a full build every batch is pending. The pending keys are probed once per model
    (get_pending_batch_keys), however many relations are imported. -#}
{% macro pending_batches() -%}
    {%- set keys = get_pending_batch_keys() -%}
pending_batches as (

    select partition_key, loaded_at as batch_loaded_at
    from {{ ref('stg_batch_loads') }}
    where {{ _pending_batch_condition(keys, 'partition_key') }}

),

calls as (

    select
        stg_calls.*,
        pending_batches.batch_loaded_at
    from {{ ref('stg_calls') }} as stg_calls
    inner join pending_batches on stg_calls.partition_key = pending_batches.partition_key

)
    {%- for name, relation in kwargs.items() %},

{{ name }} as (

    select * from {{ relation }}
    where {{ _pending_batch_condition(keys, 'partition_key') }}

)
    {%- endfor %}
{%- endmacro %}


{#- `column in (<keys>)` on an incremental build (`in (null)`: nothing, when no batch is pending), else true. -#}
{% macro _pending_batch_condition(keys, column) -%}
    {%- if is_incremental() -%}
        {{ _partition_keys_in(keys, column) }}
    {%- else -%}
        true
    {%- endif -%}
{%- endmacro %}


{#- `column in ('<key>', ...)`, the keys written as literals so that PostgreSQL reads them through the partition_key
    indexes (and only their partitions of a partitioned table); `in (null)`, no row, when there is no key. Also
    batches_under_test's condition. -#}
{% macro _partition_keys_in(keys, column) -%}
    {{ column }} in (
        {%- for key in keys -%}
            '{{ key | replace("'", "''") }}'{{ ", " if not loop.last }}
        {%- else -%}
            null
        {%- endfor -%}
    )
{%- endmacro %}

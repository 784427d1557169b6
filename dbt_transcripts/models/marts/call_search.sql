{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='partition_key',
        post_hook=[
            "{{ create_batch_index() }}",
            "create index if not exists {{ this.identifier }}_search_vector_idx on {{ this }} using gin (search_vector)",
        ],
    )
}}

with

pending_batches as (

    select partition_key, max(loaded_at) as batch_loaded_at
    from {{ ref('stg_calls') }}
    where {{ filter_pending_batches() }}
    group by partition_key

),

calls as (

    select
        stg_calls.call_id,
        stg_calls.file_name,
        stg_calls.transcribed_at,
        pending_batches.partition_key,
        pending_batches.batch_loaded_at
    from {{ ref('stg_calls') }} as stg_calls
    inner join pending_batches on stg_calls.partition_key = pending_batches.partition_key

),

utterances as (

    select fct_utterances.*
    from {{ ref('fct_utterances') }} as fct_utterances
    inner join calls on fct_utterances.call_id = calls.call_id
    where {{ filter_pending_batches('fct_utterances.partition_key') }}

),

transcripts as (

    select
        call_id,
        string_agg(speaker_role || ': ' || utterance_text, E'\n' order by turn_index) as transcript_text,
        string_agg(utterance_text, ' ' order by turn_index) as spoken_text,
        sum(count_redactions) as count_redactions
    from utterances
    group by call_id

),

final as (

    select
        calls.call_id,
        calls.file_name,
        coalesce(transcripts.transcript_text, '') as transcript_text,
        -- Placeholders are left out of the index: searching "card" must not find every redacted card number.
        to_tsvector(
            '{{ var("search_config") }}',
            regexp_replace(coalesce(transcripts.spoken_text, ''), '\[[A-Z_]+\]', ' ', 'g')
        ) as search_vector,
        coalesce(transcripts.count_redactions, 0) as count_redactions,
        calls.transcribed_at,
        calls.partition_key,
        calls.batch_loaded_at
    from calls
    left join transcripts on calls.call_id = transcripts.call_id

)

select * from final

{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='partition_key',
        post_hook="{{ create_batch_index() }}",
    )
}}

{#- Word timings and confidence without the words themselves: a word alone ("four") can be a digit of a card
    number, and only whole utterances can be redacted (fct_utterances). -#}

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
        stg_calls.channel_count,
        pending_batches.partition_key,
        pending_batches.batch_loaded_at
    from {{ ref('stg_calls') }} as stg_calls
    inner join pending_batches on stg_calls.partition_key = pending_batches.partition_key

),

words as (

    select
        stg_words.*,
        calls.channel_count,
        calls.batch_loaded_at
    from {{ ref('stg_words') }} as stg_words
    inner join calls on stg_words.call_id = calls.call_id
    where {{ filter_pending_batches('stg_words.partition_key') }}

),

final as (

    select
        call_id || ':' || channel || ':' || word_index as word_id,
        call_id,
        channel,
        word_index,
        segment_index,
        {{ get_speaker_role('channel', 'channel_count') }} as speaker_role,
        start_s,
        end_s,
        end_s - start_s as duration_s,
        probability,
        probability < {{ var('low_confidence_threshold') }} as is_low_confidence,
        partition_key,
        batch_loaded_at
    from words

)

select * from final

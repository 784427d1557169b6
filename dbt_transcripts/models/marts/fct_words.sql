{#- Word timings and confidence without the words themselves: a word alone ("four") can be a digit of a card
    number, and only whole utterances can be redacted (fct_utterances). -#}

with

{{ pending_batches(stg_words=ref('stg_words')) }},

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
        stg_words.partition_key,
        calls.batch_loaded_at
    from stg_words
    inner join calls using (call_id)

)

select * from final

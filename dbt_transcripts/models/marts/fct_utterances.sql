with

{{ pending_batches(stg_words=ref('stg_words')) }},

words as (

    select stg_words.*, calls.channel_count, calls.batch_loaded_at
    from stg_words
    inner join calls on stg_words.call_id = calls.call_id

),

add_previous_word as (

    -- The call's words in time order across channels.
    select
        *,
        lag(channel) over call_order as previous_channel,
        lag(end_s) over call_order as previous_end_s
    from words
    window call_order as (partition by call_id order by start_s, channel, word_index)

),

flag_turn_starts as (

    -- A turn ends when the other side speaks, or after a pause longer than turn_pause_s (a hold).
    select
        *,
        case
            when previous_channel is null then 1
            when channel <> previous_channel then 1
            when start_s - previous_end_s > {{ var('turn_pause_s') }} then 1
            else 0
        end as is_turn_start
    from add_previous_word

),

number_turns as (

    select
        *,
        sum(is_turn_start) over (
            partition by call_id
            order by start_s, channel, word_index
            rows unbounded preceding
        ) - 1 as turn_index
    from flag_turn_starts

),

turns as (

    select
        call_id,
        turn_index,
        channel,
        partition_key,
        batch_loaded_at,
        {{ get_speaker_role('channel', 'channel_count') }} as speaker_role,
        min(start_s) as start_s,
        max(end_s) as end_s,
        count(*) as count_words,
        avg(probability) as mean_word_probability,
        min(probability) as min_word_probability,
        -- Whisper words carry their leading space, so joining them in order rebuilds the text.
        trim(string_agg(word_text, '' order by start_s, word_index)) as raw_text
    from number_turns
    group by call_id, turn_index, channel, partition_key, batch_loaded_at, channel_count

),

redact_text as (

    select
        *,
        {{ redact_pii('raw_text') }} as utterance_text
    from turns

),

final as (

    select
        call_id || ':' || turn_index as utterance_id,
        call_id,
        turn_index,
        channel,
        speaker_role,
        start_s,
        end_s,
        end_s - start_s as duration_s,
        count_words,
        mean_word_probability,
        min_word_probability,
        utterance_text,
        {{ count_redactions('utterance_text') }} as count_redactions,
        partition_key,
        batch_loaded_at
    from redact_text

)

select * from final

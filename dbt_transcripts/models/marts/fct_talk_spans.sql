with

{{ pending_batches(stg_words=ref('stg_words')) }},

words as (

    select
        calls.call_id,
        calls.partition_key,
        calls.batch_loaded_at,
        calls.channel_count,
        stg_words.channel,
        -- Whisper may time a word past the end of the audio; talk never exceeds the recording.
        least(greatest(stg_words.start_s, 0), calls.duration_s) as start_s,
        least(greatest(stg_words.end_s, 0), calls.duration_s) as end_s
    from stg_words
    inner join calls on stg_words.call_id = calls.call_id

),

add_previous_end as (

    select
        *,
        max(end_s) over (
            partition by call_id, channel
            order by start_s, end_s
            rows between unbounded preceding and 1 preceding
        ) as previous_end_s
    from words

),

flag_span_starts as (

    -- Pauses shorter than min_pause_s stay inside the span (see dbt_project.yml).
    select
        *,
        case
            when previous_end_s is null or start_s - previous_end_s >= {{ var('min_pause_s') }} then 1
            else 0
        end as is_span_start
    from add_previous_end

),

number_spans as (

    select
        *,
        sum(is_span_start) over (
            partition by call_id, channel
            order by start_s, end_s
            rows unbounded preceding
        ) - 1 as span_index
    from flag_span_starts

),

spans as (

    select
        call_id,
        channel,
        span_index,
        partition_key,
        batch_loaded_at,
        {{ get_speaker_role('channel', 'channel_count') }} as speaker_role,
        min(start_s) as start_s,
        max(end_s) as end_s,
        count(*) as count_words
    from number_spans
    group by call_id, channel, span_index, partition_key, batch_loaded_at, channel_count

),

final as (

    select
        call_id || ':' || channel || ':' || span_index as talk_span_id,
        call_id,
        channel,
        span_index,
        speaker_role,
        start_s,
        end_s,
        end_s - start_s as duration_s,
        count_words,
        partition_key,
        batch_loaded_at
    from spans

)

select * from final

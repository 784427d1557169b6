with

{{ pending_batches(talk_spans=ref('fct_talk_spans'), utterances=ref('fct_utterances'), words=ref('stg_words')) }},

talk_by_role as (

    select
        call_id,
        coalesce(sum(duration_s) filter (where speaker_role = 'agent'), 0) as agent_talk_s,
        coalesce(sum(duration_s) filter (where speaker_role = 'customer'), 0) as customer_talk_s,
        sum(duration_s) as channel_talk_s
    from talk_spans
    group by call_id

),

add_previous_span_end as (

    -- Every channel's spans together, to find when anyone at all is speaking.
    select
        call_id,
        start_s,
        end_s,
        max(end_s) over (
            partition by call_id
            order by start_s, end_s
            rows between unbounded preceding and 1 preceding
        ) as previous_end_s
    from talk_spans

),

number_speech_islands as (

    select
        *,
        sum(case when previous_end_s is null or start_s > previous_end_s then 1 else 0 end) over (
            partition by call_id
            order by start_s, end_s
            rows unbounded preceding
        ) as island_index
    from add_previous_span_end

),

speech_islands as (

    select
        call_id,
        island_index,
        min(start_s) as start_s,
        max(end_s) as end_s
    from number_speech_islands
    group by call_id, island_index

),

speech_gaps as (

    -- The silence before each island (from the start of the call or the previous island).
    select
        call_id,
        end_s,
        end_s - start_s as duration_s,
        start_s - coalesce(lag(end_s) over (partition by call_id order by start_s), 0) as silence_before_s
    from speech_islands

),

speech_summary as (

    select
        call_id,
        sum(duration_s) as anyone_talk_s,
        max(silence_before_s) as longest_inner_silence_s,
        max(end_s) as last_speech_end_s
    from speech_gaps
    group by call_id

),

word_summary as (

    select
        call_id,
        count(*) as count_words,
        avg(probability) as mean_word_probability,
        min(probability) as min_word_probability,
        avg(
            case when probability < {{ var('low_confidence_threshold') }} then 1 else 0 end
        )::double precision as low_confidence_word_share
    from words
    group by call_id

),

turn_summary as (

    select
        call_id,
        count(*) as count_turns
    from utterances
    group by call_id

),

joined as (

    select
        calls.*,
        coalesce(talk_by_role.agent_talk_s, 0) as agent_talk_s,
        coalesce(talk_by_role.customer_talk_s, 0) as customer_talk_s,
        coalesce(talk_by_role.channel_talk_s, 0) as channel_talk_s,
        coalesce(speech_summary.anyone_talk_s, 0) as anyone_talk_s,
        greatest(
            coalesce(speech_summary.longest_inner_silence_s, calls.duration_s),
            calls.duration_s - coalesce(speech_summary.last_speech_end_s, 0)
        ) as longest_silence_s,
        coalesce(word_summary.count_words, 0) as count_words,
        word_summary.mean_word_probability,
        word_summary.min_word_probability,
        word_summary.low_confidence_word_share,
        coalesce(turn_summary.count_turns, 0) as count_turns
    from calls
    left join talk_by_role on calls.call_id = talk_by_role.call_id
    left join speech_summary on calls.call_id = speech_summary.call_id
    left join word_summary on calls.call_id = word_summary.call_id
    left join turn_summary on calls.call_id = turn_summary.call_id

),

final as (

    select
        ---------- ids
        call_id,
        partition_key,
        model_version,

        ---------- text
        model_name,
        language,  -- Whisper code (en, fr, es, ...); null for calls loaded before languages were recorded
        language_source,
        -- File names often carry a caller's number or an account id: analysts get them redacted like the
        -- transcripts (the raw name stays in the restricted asr_raw.calls).
        {{ redact_pii('file_name') }} as file_name,
        source_format,
        suspect_reason,

        ---------- structured
        decoding,

        ---------- numerics
        duration_s,
        channel_count,
        sample_rate_hz,
        language_probability,
        agent_talk_s,
        customer_talk_s,
        -- Differences of sums of float intervals leave ~1e-15 noise (a mono call's overlap came out 3.55e-15):
        -- word times are centiseconds, so rounding to the millisecond loses nothing and makes zero exact.
        greatest(round((duration_s - anyone_talk_s)::numeric, 3), 0)::double precision as silence_s,
        -- With two channels, what the channels say together minus the time anyone speaks is the time both do.
        greatest(round((channel_talk_s - anyone_talk_s)::numeric, 3), 0)::double precision as overlap_s,
        longest_silence_s,
        agent_talk_s / nullif(customer_talk_s, 0) as agent_customer_talk_ratio,
        agent_talk_s / nullif(agent_talk_s + customer_talk_s, 0) as agent_talk_share,
        count_words,
        count_words / nullif(channel_talk_s / 60, 0) as words_per_minute,
        mean_word_probability,
        min_word_probability,
        low_confidence_word_share,
        count_turns,

        ---------- booleans
        channel_count = 1 as is_mono,
        coalesce(suspect_reason, '') <> '' as is_suspect,

        ---------- timestamps
        transcribed_at,
        transcribed_at::date as transcribed_date,
        batch_loaded_at

    from joined

)

select * from final

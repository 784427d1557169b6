with

calls as (

    select * from {{ ref('fct_calls') }}

),

versions as (

    select
        model_version,
        count(*) as count_calls,
        sum(duration_s) as audio_s,
        sum(count_words)::bigint as count_words,
        -- Per-word averages, so long calls weigh by their words, not as one call each.
        sum(mean_word_probability * count_words) / nullif(sum(count_words), 0) as mean_word_probability,
        sum(low_confidence_word_share * count_words) / nullif(sum(count_words), 0) as low_confidence_word_share,
        min(transcribed_at) as first_transcribed_at,
        max(transcribed_at) as last_transcribed_at
    from calls
    group by model_version

)

select * from versions

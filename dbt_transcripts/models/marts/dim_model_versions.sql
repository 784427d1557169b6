with

calls as (

    select * from {{ ref('fct_calls') }}

),

models as (

    select * from {{ source('asr_raw', 'models') }}

),

evaluations as (

    -- The shipped evaluation set only: the same files for every version, so versions compare.
    select
        model_version,
        jsonb_object_agg(language, round(wer::numeric, 4) order by language) as wer_by_language,
        sum(wer * reference_words) / nullif(sum(reference_words), 0) as wer_overall,
        max(evaluated_at) as evaluated_at
    from {{ source('asr_raw', 'model_evaluations') }}
    where dataset = 'samples' and wer is not null
    group by model_version

),

promotions as (

    select
        model_version,
        string_agg(language, ', ' order by language) as promoted_languages
    from {{ source('asr_raw', 'promoted_models') }}
    group by model_version

),

usage as (

    select
        model_version,
        max(model_name) as model_name,
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

),

versions as (

    -- Versions that transcribed calls and versions only registered or evaluated so far.
    select
        coalesce(usage.model_version, models.model_version) as model_version,
        coalesce(models.model_name, usage.model_name) as model_name,
        models.format,
        array_to_string(models.languages, ', ') as languages,
        models.size_bytes,
        evaluations.wer_by_language,
        evaluations.wer_overall,
        evaluations.evaluated_at,
        coalesce(promotions.promoted_languages, '') as promoted_languages,
        coalesce(usage.count_calls, 0) as count_calls,
        coalesce(usage.audio_s, 0) as audio_s,
        coalesce(usage.count_words, 0)::bigint as count_words,
        usage.mean_word_probability,
        usage.low_confidence_word_share,
        usage.first_transcribed_at,
        usage.last_transcribed_at
    from usage
    full outer join models on usage.model_version = models.model_version
    left join evaluations on coalesce(usage.model_version, models.model_version) = evaluations.model_version
    left join promotions on coalesce(usage.model_version, models.model_version) = promotions.model_version

)

select * from versions

-- Which model versions transcribed how many calls, and how confident was each?
select
    model_version,
    count_calls,
    round((audio_s / 60)::numeric, 1) as audio_minutes,
    round(mean_word_probability::numeric, 3) as mean_word_probability,
    round(low_confidence_word_share::numeric, 3) as low_confidence_word_share,
    first_transcribed_at,
    last_transcribed_at
from asr_marts.dim_model_versions
order by last_transcribed_at desc

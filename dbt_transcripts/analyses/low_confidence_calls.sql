-- Which transcripts should not be trusted? Calls where many words are low-confidence, worst first.
select
    call_id,
    file_name,
    count_words,
    round(low_confidence_word_share::numeric, 3) as low_confidence_word_share,
    round(mean_word_probability::numeric, 3) as mean_word_probability,
    model_version
from asr_marts.fct_calls
where count_words > 0
order by low_confidence_word_share desc, mean_word_probability
limit 20

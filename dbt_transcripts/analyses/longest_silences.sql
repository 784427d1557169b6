-- Where is the dead air? Calls with the longest stretch of silence (holds), and their share of silence.
select
    call_id,
    file_name,
    round(longest_silence_s::numeric, 1) as longest_silence_s,
    round(silence_s::numeric, 1) as silence_s,
    round((silence_s / nullif(duration_s, 0))::numeric, 2) as silence_share,
    round(duration_s::numeric, 1) as duration_s
from asr_marts.fct_calls
order by longest_silence_s desc
limit 10

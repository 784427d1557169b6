-- Every span of talk lies inside its recording and never overlaps the next span of the same channel (of the
-- batches the build touched: batches_under_test).
with

spans as (

    select
        fct_talk_spans.*,
        fct_calls.duration_s as call_duration_s,
        lead(fct_talk_spans.start_s) over (
            partition by fct_talk_spans.call_id, fct_talk_spans.channel order by fct_talk_spans.start_s
        ) as next_start_s
    from {{ batches_under_test(ref('fct_talk_spans')) }} as fct_talk_spans
    inner join {{ batches_under_test(ref('fct_calls')) }} as fct_calls
        on fct_talk_spans.call_id = fct_calls.call_id

)

select talk_span_id
from spans
where start_s < 0
    or end_s > call_duration_s + 0.001
    or next_start_s < end_s

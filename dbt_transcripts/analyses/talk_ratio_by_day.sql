-- How much do agents talk compared with customers, day by day? (two-channel calls; mono calls have no split)
select
    transcribed_date,
    count(*) as calls,
    round((sum(agent_talk_s) / nullif(sum(customer_talk_s), 0))::numeric, 2) as agent_customer_talk_ratio,
    round(avg(agent_talk_share)::numeric, 2) as mean_agent_talk_share
from asr_marts.fct_calls
where not is_mono
group by transcribed_date
order by transcribed_date

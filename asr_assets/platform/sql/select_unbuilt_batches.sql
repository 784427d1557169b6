-- Loaded batches whose current load the marts do not hold yet (macros/get_pending_batch_keys.sql's rule, read from
-- fct_calls, the mart a build writes after the ones it reads): a batch holding calls whose (partition_key, loaded_at)
-- is not in fct_calls; a batch holding none whose rows fct_calls still has. One probe of fct_calls'
-- (partition_key, batch_loaded_at) index per batch loaded since %(since)s.
select loads.partition_key, loads.loaded_at
from asr_raw.batch_loads as loads
where loads.loaded_at >= %(since)s
  and case
    when loads.call_count > 0 then not exists (
        select 1 from asr_marts.fct_calls as built
        where built.partition_key = loads.partition_key and built.batch_loaded_at = loads.loaded_at
    )
    else exists (select 1 from asr_marts.fct_calls as built where built.partition_key = loads.partition_key)
  end
order by loads.loaded_at

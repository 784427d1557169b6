-- The analyst-facing transcripts hold no run of six or more digits, written ("4532 0151") or spoken ("four
-- five three two zero one"): redact_pii must have replaced every one. Returns the offending calls (of the batches
-- the build touched: batches_under_test).
select call_id
from {{ batches_under_test(ref('call_search')) }} as call_search
where transcript_text ~* '{{ build_digit_run_pattern(6) }}'

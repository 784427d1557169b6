-- The analyst-facing transcripts hold no run of six or more digits, written ("4532 0151") or spoken ("four
-- five three two zero one"): redact_pii must have replaced every one. Returns the offending calls.
select call_id
from {{ ref('call_search') }}
where transcript_text ~* '{{ build_digit_run_pattern(6) }}'

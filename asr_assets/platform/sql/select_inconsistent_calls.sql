-- Calls of the batch whose rows disagree: channel rows vs the call's channel count, segment and word counts vs
-- what each channel row says, words outside their call.
select c.call_id, c.file_name, c.channels,
       (select count(*) from asr_raw.channels as ch where ch.call_id = c.call_id) as channel_rows,
       (select coalesce(sum(ch.segment_count), 0) from asr_raw.channels as ch where ch.call_id = c.call_id)
           as segments_said,
       (select count(*) from asr_raw.segments as s where s.call_id = c.call_id) as segment_rows,
       (select coalesce(sum(ch.word_count), 0) from asr_raw.channels as ch where ch.call_id = c.call_id)
           as words_said,
       (select count(*) from asr_raw.words as w where w.call_id = c.call_id) as word_rows,
       (select count(*) from asr_raw.words as w
        where w.call_id = c.call_id and (w.start_s < 0 or w.end_s > c.duration_s + 0.5 or w.start_s > w.end_s))
           as words_outside
from asr_raw.calls as c
where c.partition_key = %(partition_key)s

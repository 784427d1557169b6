select c.checksum, c.duration_s, c.channels,
       (select count(*) from asr_raw.words w where w.call_id = c.call_id),
       (select avg(w.probability) from asr_raw.words w where w.call_id = c.call_id),
       (select string_agg(s.text, ' ' order by s.start_s, s.channel)
          from asr_raw.segments s where s.call_id = c.call_id)
from asr_raw.calls c where c.checksum = any(%(c)s)

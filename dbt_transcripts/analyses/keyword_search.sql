-- Which calls mention both "number" and "cancelled"? One query on the GIN-indexed search vector; the
-- headline shows the matching passage of the redacted transcript.
select
    call_search.call_id,
    call_search.file_name,
    ts_headline('english', call_search.transcript_text, query) as passage
from asr_marts.call_search,
    websearch_to_tsquery('english', 'number cancelled') as query
where call_search.search_vector @@ query
order by ts_rank(call_search.search_vector, query) desc

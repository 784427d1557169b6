{{
    config(
        post_hook="create index if not exists {{ this.identifier }}_search_vector_idx on {{ this }} using gin (search_vector)",
    )
}}

with

{{ pending_batches(fct_utterances=ref('fct_utterances')) }},

utterances as (

    select fct_utterances.*
    from fct_utterances
    inner join calls on fct_utterances.call_id = calls.call_id

),

transcripts as (

    select
        call_id,
        string_agg(speaker_role || ': ' || utterance_text, E'\n' order by turn_index) as transcript_text,
        string_agg(utterance_text, ' ' order by turn_index) as spoken_text,
        sum(count_redactions) as count_redactions
    from utterances
    group by call_id

),

final as (

    select
        calls.call_id,
        {{ redact_pii('calls.file_name') }} as file_name,  -- redacted as in fct_calls
        coalesce(transcripts.transcript_text, '') as transcript_text,
        calls.language,
        -- The call's own stemmer and stop words: query with the same configuration,
        -- `search_vector @@ websearch_to_tsquery(search_config, 'carte bloquée')`.
        {{ search_config_for('calls.language') }} as search_config,
        -- Placeholders are left out of the index: searching "card" must not find every redacted card number.
        to_tsvector(
            {{ search_config_for('calls.language') }},
            regexp_replace(coalesce(transcripts.spoken_text, ''), '\[[A-Z_]+\]', ' ', 'g')
        ) as search_vector,
        coalesce(transcripts.count_redactions, 0) as count_redactions,
        calls.transcribed_at,
        calls.partition_key,
        calls.batch_loaded_at
    from calls
    left join transcripts on calls.call_id = transcripts.call_id

)

select * from final

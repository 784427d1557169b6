with

source as (

    select * from {{ source('asr_raw', 'segments') }}

),

renamed as (

    select

        ---------- ids
        call_id,
        channel::integer as channel,
        segment_index::integer as segment_index,
        partition_key,

        ---------- text
        trim(text) as segment_text,

        ---------- numerics
        start_s::double precision as start_s,
        greatest(end_s, start_s)::double precision as end_s,
        avg_logprob::double precision as avg_logprob,
        no_speech_prob::double precision as no_speech_prob,
        compression_ratio::double precision as compression_ratio,
        temperature::double precision as temperature

    from source

)

select * from renamed

with

source as (

    select * from {{ source('asr_raw', 'words') }}

),

renamed as (

    select

        ---------- ids
        call_id,
        channel::integer as channel,
        word_index::integer as word_index,
        segment_index::integer as segment_index,
        partition_key,

        ---------- text
        -- Whisper words carry their leading space (" hello"); joined in order they give the segment's text.
        word as word_text,

        ---------- numerics
        start_s::double precision as start_s,
        -- A word never ends before it starts (Whisper can emit zero-length words at a window's end).
        greatest(end_s, start_s)::double precision as end_s,
        probability::double precision as probability

    from source

)

select * from renamed

with

source as (

    select * from {{ source('asr_raw', 'channels') }}

),

renamed as (

    select

        ---------- ids
        call_id,
        channel::integer as channel,
        partition_key,

        ---------- numerics
        duration_s::double precision as duration_s,
        peak_dbfs::double precision as peak_dbfs,
        segment_count::integer as count_segments,
        word_count::integer as count_words

    from source

)

select * from renamed

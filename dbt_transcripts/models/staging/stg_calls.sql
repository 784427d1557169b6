with

source as (

    select * from {{ source('asr_raw', 'calls') }}

),

renamed as (

    select

        ---------- ids
        call_id,
        partition_key,
        checksum,

        ---------- text
        file_name,
        source_uri,
        source_format,
        model_version,

        ---------- numerics
        duration_s::double precision as duration_s,
        sample_rate::integer as sample_rate_hz,
        channels::integer as channel_count,
        size_bytes::bigint as size_bytes,

        ---------- timestamps
        transcribed_at,
        loaded_at

    from source

)

select * from renamed

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
        model_name,
        language,
        language_source,

        ---------- structured
        decoding,
        -- text, not text[]: dbt's unit tests cannot mock an array column (it casts nulls "as ARRAY")
        array_to_string(suspect_reasons, ', ') as suspect_reason,

        ---------- numerics
        duration_s::double precision as duration_s,
        sample_rate::integer as sample_rate_hz,
        channels::integer as channel_count,
        size_bytes::bigint as size_bytes,
        language_probability::double precision as language_probability,

        ---------- timestamps
        transcribed_at,
        loaded_at

    from source

)

select * from renamed

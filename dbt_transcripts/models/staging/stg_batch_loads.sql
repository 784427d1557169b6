with

source as (

    select * from {{ source('asr_raw', 'batch_loads') }}

),

renamed as (

    select

        ---------- ids
        partition_key,

        ---------- numerics
        call_count::integer as call_count,
        quarantine_count::integer as quarantine_count,

        ---------- timestamps
        loaded_at

    from source

)

select * from renamed

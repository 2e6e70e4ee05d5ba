with source as (

    select * from {{ source('ml', 'segment_history') }}

),

renamed as (

    select
        snapshot_date,
        customer_id,
        segment_id,
        segment_name,
        rfm_segment,
        distance as segment_distance,
        model_version as segment_model_version
    from source

)

select * from renamed

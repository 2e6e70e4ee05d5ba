with source as (

    select * from {{ source('ml', 'customer_segments') }}

),

renamed as (

    select
        customer_id,
        segment_id,
        segment_name,
        distance as segment_distance,
        is_outlier as is_extreme_customer,
        model_version as segment_model_version,
        as_of as segment_as_of
    from source

)

select * from renamed

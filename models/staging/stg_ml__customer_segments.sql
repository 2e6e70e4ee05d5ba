with source as (

    select * from {{ segments.ml_source('customer_segments', {
        'customer_id': dbt.type_string(), 'segment_id': dbt.type_int(), 'segment_name': dbt.type_string(),
        'distance': 'double', 'is_outlier': dbt.type_boolean(), 'model_version': dbt.type_string(),
        'as_of': 'date'}) }}

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

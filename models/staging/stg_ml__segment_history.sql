with source as (

    select * from {{ segments.ml_source('segment_history', {
        'snapshot_date': 'date', 'customer_id': dbt.type_string(), 'segment_id': dbt.type_int(),
        'segment_name': dbt.type_string(), 'rfm_segment': dbt.type_string(), 'distance': 'double',
        'model_version': dbt.type_string()}) }}

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

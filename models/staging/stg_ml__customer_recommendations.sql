with source as (

    select * from {{ source('ml', 'customer_recommendations') }}

),

renamed as (

    select
        customer_id,
        rank as recommendation_rank,
        product_id,
        score as recommendation_score,
        source as recommendation_source,
        reason as recommendation_reason,
        is_repeat
    from source

)

select * from renamed

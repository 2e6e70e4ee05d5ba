with source as (

    select * from {{ source('shop', 'products') }}

),

renamed as (

    select
        {{ segments.clean_text('product_id') }} as product_id,
        coalesce({{ segments.clean_text('category') }}, 'unknown') as category,
        {{ segments.parse_decimal('list_price', 4) }} as list_price
    from source

)

select * from renamed

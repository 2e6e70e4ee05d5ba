with source as (

    select * from {{ source('shop', 'events') }}

),

renamed as (

    select
        {{ segments.clean_text('customer_id') }} as customer_id,
        {{ segments.parse_timestamp('event_ts') }} as event_ts,
        coalesce(lower({{ segments.clean_text('event_type') }}), 'unknown') as event_type,
        {{ segments.clean_text('product_id') }} as product_id
    from source

)

select * from renamed

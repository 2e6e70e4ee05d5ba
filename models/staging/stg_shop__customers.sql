with source as (

    select * from {{ source('shop', 'customers') }}

),

renamed as (

    select
        {{ segments.clean_text('customer_id') }} as customer_id,
        cast({{ segments.parse_timestamp('signup_date') }} as date) as signup_date,
        {{ dbt.safe_cast(segments.clean_text('birth_year'), dbt.type_int()) }} as birth_year,
        coalesce(lower({{ segments.clean_text('gender') }}), 'unknown') as gender,
        coalesce({{ segments.clean_text('region') }}, 'unknown') as region
    from source

)

select * from renamed

-- The snapshot date: SEGMENTS_AS_OF when set, else the day of the latest order that is not after today.
{% set configured = segments.as_of_setting() %}

with source as (

    select * from {{ source('shop', 'transactions') }}

),

parsed as (

    select {{ segments.parse_timestamp('order_ts') }} as order_ts from source

),

renamed as (

    select
    {% if configured %}
        {{ configured }} as as_of_date,
        'SEGMENTS_AS_OF' as as_of_source
    {% else %}
        cast(max(order_ts) as date) as as_of_date,
        'latest order' as as_of_source
    from parsed
    where cast(order_ts as date) <= current_date
    {% endif %}

)

select * from renamed

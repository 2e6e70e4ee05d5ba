-- A table: both the accepted lines and the quarantine read it, and the duplicate check is its costliest step.
{{ config(materialized="table") }}
{% set configured = segments.as_of_setting() %}

-- Every input line with its typed values and, when rejected, the first reason that applies (in the order below).
with source as (

    select * from {{ source('shop', 'transactions') }}

),

typed as (

    select
        order_id as raw_order_id,
        customer_id as raw_customer_id,
        order_ts as raw_order_ts,
        product_id as raw_product_id,
        category as raw_category,
        quantity as raw_quantity,
        unit_price as raw_unit_price,
        channel as raw_channel,
        {{ segments.clean_text('order_id') }} as order_id,
        {{ segments.clean_text('customer_id') }} as customer_id,
        {{ segments.parse_timestamp('order_ts') }} as order_ts,
        {{ segments.clean_text('product_id') }} as product_id,
        coalesce({{ segments.clean_text('category') }}, 'unknown') as category,
        {{ segments.parse_decimal('quantity', 3) }} as quantity,
        {{ segments.parse_decimal('unit_price', 4) }} as unit_price,
        coalesce(lower({{ segments.clean_text('channel') }}), 'unknown') as channel
    from source

),

-- The reasons before and after the date check, apart, so the snapshot date can be taken from valid lines only.
checked as (

    select
        typed.*,
        case
            when customer_id is null then 'missing_customer_id'
            when order_id is null then 'missing_order_id'
            when {{ segments.clean_text('raw_order_ts') }} is null then 'missing_order_ts'
            when order_ts is null then 'unparseable_order_ts'
        end as identity_reason,
        case
            when {{ segments.clean_text('raw_quantity') }} is null then 'missing_quantity'
            when quantity is null then 'unparseable_quantity'
            when quantity = 0 then 'zero_quantity'
            when {{ segments.clean_text('raw_unit_price') }} is null then 'missing_unit_price'
            when unit_price is null then 'unparseable_unit_price'
            when unit_price < 0 then 'negative_unit_price'
        end as value_reason,
        row_number() over (
            partition by
                raw_order_id, raw_customer_id, raw_order_ts, raw_product_id,
                raw_category, raw_quantity, raw_unit_price, raw_channel
            order by raw_order_id
        ) as copy_number
    from typed

),

-- The snapshot date (stg_shop__as_of reads it back from the accepted lines): SEGMENTS_AS_OF, else the day of the
-- latest line that passes every other check and is not after today, so one bad line cannot move it.
as_of as (

    {% if configured %}
    select {{ configured }} as as_of_date
    {% else %}
    select cast(max(order_ts) as date) as as_of_date
    from checked
    where identity_reason is null and value_reason is null and cast(order_ts as date) <= current_date
    {% endif %}

),

renamed as (

    select
        checked.*,
        coalesce(
            identity_reason,
            -- without any valid line there is no snapshot date: lines after today are still in the future
            case when cast(order_ts as date) > coalesce((select as_of_date from as_of), current_date)
                then 'future_order_ts' end,
            value_reason,
            case when copy_number > 1 then 'duplicate_line' end
        ) as reject_reason
    from checked

)

select * from renamed

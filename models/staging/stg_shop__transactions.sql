-- A view: a filter over the typed lines table, so the accepted lines are not written twice.
-- Accepted order lines, typed. A negative quantity is a return and is kept.
with source as (

    select * from {{ ref('stg_shop__transaction_lines') }}
    where reject_reason is null

),

renamed as (

    select
        order_id,
        customer_id,
        order_ts,
        cast(order_ts as date) as order_date,
        product_id,
        category,
        channel,
        quantity,
        unit_price,
        cast(quantity * unit_price as decimal(18, 4)) as line_amount,
        quantity < 0 as is_return
    from source

)

select * from renamed

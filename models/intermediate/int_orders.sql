{{ config(materialized="table") }}

-- One row per customer order: purchase and return amounts of its lines.
with lines as (

    select * from {{ ref('stg_shop__transactions') }}

),

orders as (

    select
        customer_id,
        order_id,
        min(order_ts) as order_ts,
        min(order_date) as order_date,
        max(channel) as channel,
        sum(case when quantity > 0 then line_amount else 0 end) as gross_amount,
        -sum(case when quantity < 0 then line_amount else 0 end) as return_amount,
        sum(line_amount) as net_amount,
        sum(case when quantity > 0 then quantity else 0 end) as units,
        sum(case when quantity > 0 then 1 else 0 end) > 0 as is_purchase
    from lines
    group by customer_id, order_id

)

select * from orders

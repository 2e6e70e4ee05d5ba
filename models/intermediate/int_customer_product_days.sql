{{ config(materialized="table") }}

-- One row per customer, product and purchase day: the purchase history the recommenders learn from (read once by
-- the recommendations asset, and by item_similarity and segment_top_products). Purchases only (quantity > 0) at a
-- price (unit_price > 0: a free item was not chosen), of lines with a product id; same-day orders count once.
with purchase_lines as (

    select * from {{ ref('stg_shop__transactions') }}
    where quantity > 0 and unit_price > 0 and product_id is not null

),

product_days as (

    select
        customer_id,
        product_id,
        order_date as purchase_date,
        count(distinct order_id) as orders,
        sum(quantity) as units,
        sum(line_amount) as amount
    from purchase_lines
    group by customer_id, product_id, order_date

)

select * from product_days

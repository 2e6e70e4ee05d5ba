{{ config(materialized="table") }}

-- One row per customer and item bought: the purchase matrix that product taste is learned from. The item is
-- the product, or the category on lines without a product id, so a shop without products still has a taste.
with purchase_lines as (

    select * from {{ ref('stg_shop__transactions') }}
    where quantity > 0

),

items as (

    select
        customer_id,
        coalesce(product_id, category) as item,
        order_id,
        quantity,
        line_amount
    from purchase_lines
    where coalesce(product_id, category) is not null

),

customer_items as (

    select
        customer_id,
        item,
        count(distinct order_id) as orders,
        sum(quantity) as units,
        sum(line_amount) as amount
    from items
    group by customer_id, item

)

select * from customer_items

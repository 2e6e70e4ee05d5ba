{{ config(materialized="table") }}

-- One row per customer per day with a purchase (same-day orders merged, as in BTYD models), with the gap to the
-- customer's previous purchase day.
with orders as (

    select * from {{ ref('int_orders') }}
    where is_purchase

),

days as (

    select
        customer_id,
        order_date as purchase_date,
        sum(gross_amount) as gross_amount,
        count(*) as orders
    from orders
    group by customer_id, order_date

),

with_gaps as (

    select
        *,
        {{ dbt.datediff(
            'lag(purchase_date) over (partition by customer_id order by purchase_date)',
            'purchase_date', 'day') }} as days_since_previous
    from days

)

select * from with_gaps

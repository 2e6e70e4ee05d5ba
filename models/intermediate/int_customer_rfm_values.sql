-- One row per customer with at least one purchase: the RFM quantities at the snapshot date, in days.
with purchase_days as (

    select * from {{ ref('int_customer_purchase_days') }}

),

orders as (

    select * from {{ ref('int_orders') }}

),

as_of as (

    select as_of_date from {{ ref('stg_shop__as_of') }}

),

per_customer_days as (

    select
        customer_id,
        min(purchase_date) as first_purchase_date,
        max(purchase_date) as last_purchase_date,
        count(*) as purchase_days
    from purchase_days
    group by customer_id

),

per_customer_orders as (

    select
        customer_id,
        sum(case when is_purchase then 1 else 0 end) as order_count,
        sum(net_amount) as net_revenue
    from orders
    group by customer_id

),

rfm as (

    select
        d.customer_id,
        d.first_purchase_date,
        d.last_purchase_date,
        a.as_of_date,
        cast(o.order_count as {{ dbt.type_int() }}) as order_count,
        cast(d.purchase_days - 1 as {{ dbt.type_int() }}) as frequency,
        cast({{ dbt.datediff('d.first_purchase_date', 'd.last_purchase_date', 'day') }} as {{ dbt.type_int() }}) as recency,
        cast({{ dbt.datediff('d.first_purchase_date', 'a.as_of_date', 'day') }} as {{ dbt.type_int() }}) as T,
        cast({{ dbt.datediff('d.last_purchase_date', 'a.as_of_date', 'day') }} as {{ dbt.type_int() }}) as days_since_last_order,
        cast(o.net_revenue as decimal(18, 2)) as net_revenue,
        -- the quotient in double, as DuckDB divides decimals (Spark's decimal quotient keeps 6 places), rounded to
        -- cents on its exact value (a cast from double rounds 1179.215 down on DuckDB, up on Spark)
        cast(round(cast(o.net_revenue as double) / d.purchase_days * 1e2) / 1e2 as decimal(18, 2)) as monetary_value
    from per_customer_days as d
    inner join per_customer_orders as o on o.customer_id = d.customer_id
    cross join as_of as a

)

select * from rfm

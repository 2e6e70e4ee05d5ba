{#- Customer features measured at three cutoffs, for a purchase-propensity model evaluated on a temporal holdout:
    train  cutoff = snapshot - 2 × horizon, label = purchased in the horizon after it
    test   cutoff = snapshot - horizon,     label likewise (the holdout)
    score  cutoff = snapshot,               no label (the future)
    The horizon is var('propensity_horizon_days'). Only what happened on or before a cutoff feeds its features. -#}
{%- set horizon = var('propensity_horizon_days') -%}

with orders as (

    select * from {{ ref('int_orders') }}

),

purchase_days as (

    select * from {{ ref('int_customer_purchase_days') }}

),

cutoffs as (

    select 'train' as role, cast({{ dbt.dateadd('day', -2 * horizon, 'as_of_date') }} as date) as cutoff_date
    from {{ ref('stg_shop__as_of') }}
    union all
    select 'test' as role, cast({{ dbt.dateadd('day', -horizon, 'as_of_date') }} as date) as cutoff_date
    from {{ ref('stg_shop__as_of') }}
    union all
    select 'score' as role, as_of_date as cutoff_date
    from {{ ref('stg_shop__as_of') }}

),

history as (

    select
        c.role,
        c.cutoff_date,
        d.customer_id,
        min(d.purchase_date) as first_purchase_date,
        max(d.purchase_date) as last_purchase_date,
        count(*) as purchase_days
    from purchase_days as d
    inner join cutoffs as c on d.purchase_date <= c.cutoff_date
    group by c.role, c.cutoff_date, d.customer_id

),

spend as (

    select
        c.role,
        o.customer_id,
        sum(case when o.is_purchase then 1 else 0 end) as purchase_orders,
        sum(o.gross_amount) as gross_amount,
        sum(o.return_amount) as return_amount,
        sum(case when o.order_date > {{ dbt.dateadd('day', -horizon, 'c.cutoff_date') }}
                 then o.net_amount else 0 end) as spend_last_horizon,
        sum(case when o.order_date > {{ dbt.dateadd('day', -horizon, 'c.cutoff_date') }} and o.is_purchase
                 then 1 else 0 end) as orders_last_horizon
    from orders as o
    inner join cutoffs as c on o.order_date <= c.cutoff_date
    group by c.role, o.customer_id

),

labels as (

    select c.role, d.customer_id, count(*) as purchase_days_after
    from purchase_days as d
    inner join cutoffs as c
        on d.purchase_date > c.cutoff_date
        and d.purchase_date <= {{ dbt.dateadd('day', horizon, 'c.cutoff_date') }}
    where c.role <> 'score'
    group by c.role, d.customer_id

),

examples as (

    select
        h.role,
        h.cutoff_date,
        h.customer_id,
        cast(h.purchase_days - 1 as double) as frequency,
        cast({{ dbt.datediff('h.first_purchase_date', 'h.last_purchase_date', 'day') }} as double) as recency_days,
        cast({{ dbt.datediff('h.first_purchase_date', 'h.cutoff_date', 'day') }} as double) as tenure_days,
        cast({{ dbt.datediff('h.last_purchase_date', 'h.cutoff_date', 'day') }} as double) as days_since_last_order,
        cast(s.purchase_orders as double) as order_count,
        cast(s.gross_amount as double) / nullif(s.purchase_orders, 0) as avg_order_value,
        coalesce(cast(s.return_amount as double) / nullif(s.gross_amount, 0), 0.0) as return_rate,
        cast(s.spend_last_horizon as double) as spend_last_horizon,
        cast(s.orders_last_horizon as double) as orders_last_horizon,
        case when h.role = 'score' then null else coalesce(l.purchase_days_after, 0) > 0 end as purchased_next_horizon
    from history as h
    inner join spend as s on s.role = h.role and s.customer_id = h.customer_id
    left join labels as l on l.role = h.role and l.customer_id = h.customer_id

)

select * from examples

{%- set category_slots = var('category_slots') -%}
{%- set channel_slots = var('channel_slots') -%}

with purchase_lines as (

    select * from {{ ref('stg_shop__transactions') }}
    where quantity > 0

),

orders as (

    select * from {{ ref('int_orders') }}

),

purchase_days as (

    select * from {{ ref('int_customer_purchase_days') }}

),

slots as (

    select * from {{ ref('feature_slots') }}

),

customers as (

    select * from {{ ref('stg_shop__customers') }}

),

events as (

    select * from {{ ref('stg_shop__events') }}

),

as_of as (

    select as_of_date from {{ ref('stg_shop__as_of') }}

),

basket as (

    select
        o.customer_id,
        sum(case when o.is_purchase then 1 else 0 end) as purchase_orders,
        sum(o.gross_amount) as gross_amount,
        sum(o.return_amount) as return_amount,
        sum(case when o.is_purchase then o.units else 0 end) as units,
        sum(case when o.order_date > {{ dbt.dateadd('day', -90, 'a.as_of_date') }} then o.net_amount else 0 end)
            as spend_last_90d,
        sum(case when o.order_date > {{ dbt.dateadd('day', -180, 'a.as_of_date') }}
                  and o.order_date <= {{ dbt.dateadd('day', -90, 'a.as_of_date') }} then o.net_amount else 0 end)
            as spend_prior_90d
    from orders as o
    cross join as_of as a
    group by o.customer_id

),

-- integer sums keep the spread exact, so reruns give bit-identical values
cadence as (

    select
        customer_id,
        count(days_since_previous) as gaps,
        sum(days_since_previous) as gap_sum,
        sum(days_since_previous * days_since_previous) as gap_sum_squares
    from purchase_days
    group by customer_id

),

category_mix as (

    select
        l.customer_id,
        count(distinct l.product_id) as distinct_products,
        count(distinct l.category) as distinct_categories,
        {% for slot in range(1, category_slots + 1) -%}
        sum(case when s.slot = {{ slot }} then l.line_amount else 0 end) as category_amount_{{ '%02d' % slot }},
        {% endfor -%}
        sum(case when s.slot is null then l.line_amount else 0 end) as category_amount_other
    from purchase_lines as l
    left join slots as s on s.dimension = 'category' and s.label = l.category
    group by l.customer_id

),

channel_mix as (

    select
        o.customer_id,
        {% for slot in range(1, channel_slots + 1) -%}
        sum(case when s.slot = {{ slot }} then 1 else 0 end) as channel_orders_{{ '%02d' % slot }},
        {% endfor -%}
        sum(case when s.slot is null then 1 else 0 end) as channel_orders_other
    from orders as o
    left join slots as s on s.dimension = 'channel' and s.label = o.channel
    where o.is_purchase
    group by o.customer_id

),

event_counts as (

    -- like order lines, events after the snapshot date are not known at the snapshot
    select e.customer_id, count(*) as event_count
    from events as e
    cross join as_of as a
    where cast(e.event_ts as date) <= a.as_of_date
    group by e.customer_id

),

behavior as (

    select
        b.customer_id,
        -- ratios in double: a decimal quotient is rounded to 6 places on Spark, not on DuckDB
        cast(b.gross_amount as double) / b.purchase_orders as avg_order_value,
        cast(b.units as double) / b.purchase_orders as items_per_order,
        case when c.gaps > 0 then cast(c.gap_sum as double) / c.gaps end as interpurchase_days_mean,
        case when c.gaps > 1 then sqrt(greatest(0.0,
            (c.gap_sum_squares - cast(c.gap_sum as double) * c.gap_sum / c.gaps) / (c.gaps - 1))) end
            as interpurchase_days_std,
        cast(m.distinct_products as {{ dbt.type_int() }}) as distinct_products,
        cast(m.distinct_categories as {{ dbt.type_int() }}) as distinct_categories,
        {% for slot in range(1, category_slots + 1) -%}
        cast(m.category_amount_{{ '%02d' % slot }} as double) / nullif(b.gross_amount, 0) as category_share_{{ '%02d' % slot }},
        {% endfor -%}
        cast(m.category_amount_other as double) / nullif(b.gross_amount, 0) as category_share_other,
        {% for slot in range(1, channel_slots + 1) -%}
        cast(h.channel_orders_{{ '%02d' % slot }} as double) / b.purchase_orders as channel_share_{{ '%02d' % slot }},
        {% endfor -%}
        cast(h.channel_orders_other as double) / b.purchase_orders as channel_share_other,
        cast(b.return_amount as double) / nullif(b.gross_amount, 0) as return_rate,
        cast(b.spend_last_90d as double) as spend_last_90d,
        cast(b.spend_prior_90d as double) as spend_prior_90d,
        coalesce(cast(b.spend_last_90d - b.spend_prior_90d as double)
            / nullif(abs(b.spend_last_90d) + abs(b.spend_prior_90d), 0), 0.0) as spend_trend,
        cast({{ dbt.datediff('cu.signup_date', 'a.as_of_date', 'day') }} as {{ dbt.type_int() }}) as days_since_signup,
        case
            when cu.birth_year is null then 'unknown'
            when extract(year from a.as_of_date) - cu.birth_year < 25 then 'under 25'
            when extract(year from a.as_of_date) - cu.birth_year < 35 then '25-34'
            when extract(year from a.as_of_date) - cu.birth_year < 45 then '35-44'
            when extract(year from a.as_of_date) - cu.birth_year < 55 then '45-54'
            when extract(year from a.as_of_date) - cu.birth_year < 65 then '55-64'
            else '65+'
        end as age_band,
        coalesce(cu.region, 'unknown') as region,
        coalesce(cu.gender, 'unknown') as gender,
        cast(coalesce(e.event_count, 0) as {{ dbt.type_int() }}) as event_count
    from basket as b
    inner join cadence as c on c.customer_id = b.customer_id
    inner join category_mix as m on m.customer_id = b.customer_id
    inner join channel_mix as h on h.customer_id = b.customer_id
    cross join as_of as a
    left join customers as cu on cu.customer_id = b.customer_id
    left join event_counts as e on e.customer_id = b.customer_id
    where b.purchase_orders > 0

)

select * from behavior

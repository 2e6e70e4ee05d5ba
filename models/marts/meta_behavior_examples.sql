{#- Behaviour tasks for meta-learning: customers measured at var('meta_periods') past cutoffs, one horizon apart
    (cutoff k = snapshot - k × var('propensity_horizon_days'), k = 1 .. meta_periods), each with what they did in
    the horizon after it. A task is a slice of these rows: by default one region at one cutoff (README,
    "Meta-learning"). Only what happened on or before a cutoff feeds its features. Empty without segment labels. -#}
{%- set horizon = var('propensity_horizon_days') -%}
{%- set category_slots = var('category_slots') -%}
{%- set channel_slots = var('channel_slots') -%}

with orders as (

    select * from {{ ref('int_orders') }}

),

lines as (

    select * from {{ ref('stg_shop__transactions') }}

),

slots as (

    select * from {{ ref('feature_slots') }}

),

customers as (

    select customer_id, region, age_band, gender from {{ ref('customer_features') }}

),

-- No cutoffs, so no rows and next to no cost, in a shop without segment labels: only meta-learning reads this
-- table, and it has nothing to adapt to there.
periods as (

    select * from (
        {% for period in range(1, var('meta_periods') + 1) -%}
        select {{ period }} as period,
            cast({{ dbt.dateadd('day', -period * horizon, 'as_of_date') }} as date) as cutoff_date
        from {{ ref('stg_shop__as_of') }}
        {% if not loop.last %}union all{% endif %}
        {% endfor %}
    ) as cutoffs
    where exists (select 1 from {{ ref('stg_shop__segment_labels') }})

),

history as (

    select
        p.period,
        p.cutoff_date,
        o.customer_id,
        min(o.order_date) as first_order_date,
        max(case when o.is_purchase then o.order_date end) as last_order_date,
        sum(case when o.is_purchase then 1 else 0 end) as purchase_orders,
        sum(o.gross_amount) as gross_amount,
        sum(o.return_amount) as return_amount,
        sum(case when o.order_date > {{ dbt.dateadd('day', -horizon, 'p.cutoff_date') }}
                 then o.net_amount else 0 end) as spend_last_horizon,
        {% for slot in range(1, channel_slots + 1) -%}
        sum(case when o.is_purchase and s.slot = {{ slot }} then 1 else 0 end) as channel_orders_{{ '%02d' % slot }},
        {% endfor -%}
        count(*) as orders
    from orders as o
    inner join periods as p on o.order_date <= p.cutoff_date
    left join slots as s on s.dimension = 'channel' and s.label = o.channel
    group by p.period, p.cutoff_date, o.customer_id

),

category_mix as (

    select
        p.period,
        l.customer_id,
        {% for slot in range(1, category_slots + 1) -%}
        sum(case when s.slot = {{ slot }} then l.line_amount else 0 end) as category_amount_{{ '%02d' % slot }},
        {% endfor -%}
        sum(l.line_amount) as purchase_amount
    from lines as l
    inner join periods as p on l.order_date <= p.cutoff_date
    left join slots as s on s.dimension = 'category' and s.label = l.category
    where not l.is_return
    group by p.period, l.customer_id

),

outcomes as (

    select
        p.period,
        o.customer_id,
        sum(case when o.is_purchase then 1 else 0 end) as purchases_after,
        sum(o.net_amount) as spend_after
    from orders as o
    inner join periods as p
        on o.order_date > p.cutoff_date
        and o.order_date <= {{ dbt.dateadd('day', horizon, 'p.cutoff_date') }}
    group by p.period, o.customer_id

),

examples as (

    select
        h.period,
        h.cutoff_date,
        h.customer_id,
        c.region,
        c.age_band,
        c.gender,
        cast(h.purchase_orders as double) as order_count,
        cast(coalesce({{ dbt.datediff('h.last_order_date', 'h.cutoff_date', 'day') }},
                      {{ dbt.datediff('h.first_order_date', 'h.cutoff_date', 'day') }}) as double)
            as days_since_last_order,
        cast({{ dbt.datediff('h.first_order_date', 'h.cutoff_date', 'day') }} as double) as tenure_days,
        cast(coalesce(h.gross_amount / nullif(h.purchase_orders, 0), 0) as double) as avg_order_value,
        cast(coalesce(h.return_amount / nullif(h.gross_amount, 0), 0) as double) as return_rate,
        cast(h.spend_last_horizon as double) as spend_last_horizon,
        {% for slot in range(1, channel_slots + 1) -%}
        cast(coalesce(1.0 * h.channel_orders_{{ '%02d' % slot }} / nullif(h.purchase_orders, 0), 0) as double)
            as channel_share_{{ '%02d' % slot }},
        {% endfor -%}
        {% for slot in range(1, category_slots + 1) -%}
        cast(coalesce(m.category_amount_{{ '%02d' % slot }} / nullif(m.purchase_amount, 0), 0) as double)
            as category_share_{{ '%02d' % slot }},
        {% endfor -%}
        coalesce(x.purchases_after, 0) > 0 as purchased_next_horizon,
        cast(coalesce(x.spend_after, 0) as double) as spend_next_horizon
    from history as h
    inner join customers as c on c.customer_id = h.customer_id
    left join category_mix as m on m.period = h.period and m.customer_id = h.customer_id
    left join outcomes as x on x.period = h.period and x.customer_id = h.customer_id
    where h.purchase_orders > 0

)

select * from examples

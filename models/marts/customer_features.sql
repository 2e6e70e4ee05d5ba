{%- set category_slots = var('category_slots') -%}
{%- set channel_slots = var('channel_slots') -%}
-- Model-ready: every numeric column is a non-null double, every categorical a non-null string.
with rfm as (

    select * from {{ ref('customer_rfm') }}

),

behavior as (

    select * from {{ ref('customer_behavior') }}

),

features as (

    select
        r.customer_id,
        cast(r.order_count as double) as order_count,
        cast(r.frequency as double) as frequency,
        cast(r.days_since_last_order as double) as days_since_last_order,
        cast(r.T as double) as tenure_days,
        cast(r.net_revenue as double) as net_revenue,
        cast(r.monetary_value as double) as monetary_value,
        b.avg_order_value,
        b.items_per_order,
        -- a one-time buyer has gone at least their whole tenure without a second purchase
        coalesce(b.interpurchase_days_mean, cast(r.T as double)) as interpurchase_days_mean,
        coalesce(b.interpurchase_days_std, 0.0) as interpurchase_days_std,
        cast(b.distinct_products as double) as distinct_products,
        cast(b.distinct_categories as double) as distinct_categories,
        {% for slot in range(1, category_slots + 1) -%}
        coalesce(b.category_share_{{ '%02d' % slot }}, 0.0) as category_share_{{ '%02d' % slot }},
        {% endfor -%}
        coalesce(b.category_share_other, 0.0) as category_share_other,
        {% for slot in range(1, channel_slots + 1) -%}
        b.channel_share_{{ '%02d' % slot }},
        {% endfor -%}
        b.channel_share_other,
        coalesce(b.return_rate, 0.0) as return_rate,
        b.spend_last_90d,
        b.spend_prior_90d,
        b.spend_trend,
        cast(coalesce(b.days_since_signup, r.T) as double) as days_since_signup,
        cast(b.event_count as double) as event_count,
        b.age_band,
        b.region,
        b.gender
    from rfm as r
    inner join behavior as b on b.customer_id = r.customer_id

)

select * from features

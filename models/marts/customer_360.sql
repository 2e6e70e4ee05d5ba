-- One row per customer with at least one purchase: features, RFM segment, behavioural segment and the top 3
-- recommended products side by side.
with features as (

    select * from {{ ref('customer_features') }}

),

rfm as (

    select * from {{ ref('customer_rfm') }}

),

segments as (

    select * from {{ ref('stg_ml__customer_segments') }}

),

recommendations as (

    select
        customer_id,
        max(case when recommendation_rank = 1 then product_id end) as recommended_product_1,
        max(case when recommendation_rank = 2 then product_id end) as recommended_product_2,
        max(case when recommendation_rank = 3 then product_id end) as recommended_product_3
    from {{ ref('stg_ml__customer_recommendations') }}
    where recommendation_rank <= 3
    group by customer_id

),

customer_360 as (

    select
        features.customer_id,
        rfm.as_of_date,
        rfm.first_purchase_date,
        rfm.last_purchase_date,
        rfm.order_count,
        rfm.frequency,
        rfm.recency,
        rfm.T,
        rfm.days_since_last_order,
        rfm.net_revenue,
        rfm.monetary_value,
        rfm.r_score,
        rfm.f_score,
        rfm.m_score,
        rfm.rfm_cell,
        rfm.rfm_segment,
        segments.segment_id,
        segments.segment_name,
        segments.segment_distance,
        segments.is_extreme_customer,
        segments.segment_model_version,
        features.avg_order_value,
        features.items_per_order,
        features.interpurchase_days_mean,
        features.return_rate,
        features.spend_last_90d,
        features.spend_prior_90d,
        features.spend_trend,
        features.distinct_categories,
        features.age_band,
        features.region,
        features.gender,
        recommendations.recommended_product_1,
        recommendations.recommended_product_2,
        recommendations.recommended_product_3
    from features
    inner join rfm on rfm.customer_id = features.customer_id
    left join segments on segments.customer_id = features.customer_id
    left join recommendations on recommendations.customer_id = features.customer_id

)

select * from customer_360

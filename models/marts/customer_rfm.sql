with rfm_values as (

    select * from {{ ref('int_customer_rfm_values') }}

),

segment_map as (

    select * from {{ ref('rfm_segment_map') }}

),

scored as (

    select
        *,
        {{ segments.quintile_score('days_since_last_order', better='lower') }} as r_score,
        {{ segments.quintile_score('frequency') }} as f_score,
        {{ segments.quintile_score('monetary_value') }} as m_score
    from rfm_values

),

segmented as (

    select
        scored.customer_id,
        scored.first_purchase_date,
        scored.last_purchase_date,
        scored.as_of_date,
        scored.order_count,
        scored.frequency,
        scored.recency,
        scored.T,
        scored.days_since_last_order,
        scored.net_revenue,
        scored.monetary_value,
        scored.r_score,
        scored.f_score,
        scored.m_score,
        {{ dbt.concat(["cast(scored.r_score as " ~ dbt.type_string() ~ ")",
                       "cast(scored.f_score as " ~ dbt.type_string() ~ ")",
                       "cast(scored.m_score as " ~ dbt.type_string() ~ ")"]) }} as rfm_cell,
        segment_map.rfm_segment
    from scored
    left join segment_map
        on segment_map.r_score = scored.r_score and segment_map.f_score = scored.f_score

)

select * from segmented

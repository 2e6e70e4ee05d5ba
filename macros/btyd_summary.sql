{#- lifetimes' summary_data_from_transaction_data in SQL: per customer who purchased by `calibration_end` (a SQL
    date expression over the `as_of_date` column), same-day purchases merged, time in periods of
    var('clv_period_days') days. The holdout columns count purchase days after the calibration end up to the
    snapshot date. -#}
{% macro btyd_summary(calibration_end) %}
{%- set period_days = var('clv_period_days') -%}

with purchase_days as (

    select * from {{ ref('int_customer_purchase_days') }}

),

periods as (

    select as_of_date, {{ calibration_end }} as calibration_end_date
    from {{ ref('stg_shop__as_of') }}

),

calibration as (

    select
        d.customer_id,
        min(d.purchase_date) as first_purchase_date,
        max(d.purchase_date) as last_purchase_date,
        count(*) as purchase_days,
        sum(d.gross_amount) as gross_amount
    from purchase_days as d
    cross join periods as p
    where d.purchase_date <= p.calibration_end_date
    group by d.customer_id

),

first_day_amount as (

    select d.customer_id, d.gross_amount as first_amount
    from purchase_days as d
    inner join calibration as c
        on c.customer_id = d.customer_id and c.first_purchase_date = d.purchase_date

),

holdout as (

    select
        d.customer_id,
        count(*) as holdout_purchase_days,
        sum(d.gross_amount) as holdout_gross_amount
    from purchase_days as d
    cross join periods as p
    where d.purchase_date > p.calibration_end_date and d.purchase_date <= p.as_of_date
    group by d.customer_id

),

summary as (

    select
        c.customer_id,
        p.calibration_end_date,
        cast(c.purchase_days - 1 as {{ dbt.type_int() }}) as frequency,
        cast({{ dbt.datediff('c.first_purchase_date', 'c.last_purchase_date', 'day') }} as double)
            / {{ period_days }} as recency,
        cast({{ dbt.datediff('c.first_purchase_date', 'p.calibration_end_date', 'day') }} as double)
            / {{ period_days }} as T,
        case when c.purchase_days > 1
            then cast(c.gross_amount - f.first_amount as double) / (c.purchase_days - 1) else 0.0 end as monetary_value,
        cast(coalesce(h.holdout_purchase_days, 0) as {{ dbt.type_int() }}) as frequency_holdout,
        cast(coalesce(h.holdout_gross_amount, 0) as double) as monetary_value_holdout,
        cast({{ dbt.datediff('p.calibration_end_date', 'p.as_of_date', 'day') }} as double)
            / {{ period_days }} as duration_holdout,
        cast({{ period_days }} as {{ dbt.type_int() }}) as period_days
    from calibration as c
    inner join first_day_amount as f on f.customer_id = c.customer_id
    cross join periods as p
    left join holdout as h on h.customer_id = c.customer_id

)

select * from summary
{% endmacro %}

-- The BTYD summary over the whole history up to the snapshot date: what the CLV models are fitted and scored on.
with summary as (

    {{ btyd_summary('as_of_date') }}

)

select customer_id, frequency, recency, T, monetary_value, period_days from summary

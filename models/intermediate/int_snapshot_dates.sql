-- One row per snapshot date: every month end with purchases before the snapshot date, and the snapshot date itself.
with purchase_days as (

    select * from {{ ref('int_customer_purchase_days') }}

),

as_of as (

    select as_of_date from {{ ref('stg_shop__as_of') }}

),

month_ends as (

    select distinct cast({{ dbt.last_day('purchase_date', 'month') }} as date) as snapshot_date
    from purchase_days

)

select m.snapshot_date
from month_ends as m
cross join as_of as a
where m.snapshot_date < a.as_of_date

union all

select as_of_date as snapshot_date from as_of

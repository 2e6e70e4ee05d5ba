{#- Lifecycle stage of every customer at every snapshot, by these rules (days counted to the snapshot date):
    new          first purchase less than var('lifecycle_active_days') ago
    reactivated  came back less than var('lifecycle_active_days') ago: a purchase in that window followed a gap
                 of at least var('lifecycle_lapsed_days') days
    active       last purchase less than var('lifecycle_active_days') ago
    at risk      last purchase var('lifecycle_active_days') to var('lifecycle_lapsed_days') days ago
    lapsed       last purchase var('lifecycle_lapsed_days') to var('lifecycle_churned_days') days ago
    churned      last purchase var('lifecycle_churned_days') or more days ago
    The first rule that applies wins. -#}
{%- set active_days = var('lifecycle_active_days') -%}
{%- set lapsed_days = var('lifecycle_lapsed_days') -%}
{%- set churned_days = var('lifecycle_churned_days') -%}

with purchase_days as (

    select
        customer_id,
        purchase_date,
        -- the latest purchase, up to this one, that ended a gap long enough to count as a return
        max(case when days_since_previous >= {{ lapsed_days }} then purchase_date end) over (
            partition by customer_id order by purchase_date rows between unbounded preceding and current row
        ) as last_return_date,
        lead(purchase_date) over (partition by customer_id order by purchase_date) as next_purchase_date,
        min(purchase_date) over (partition by customer_id) as first_purchase_date
    from {{ ref('int_customer_purchase_days') }}

),

snapshots as (

    select * from {{ ref('int_snapshot_dates') }}

),

-- each customer's latest purchase day as of each snapshot: the day on or before it whose next day is after it
latest as (

    select
        p.customer_id,
        s.snapshot_date,
        p.first_purchase_date,
        p.purchase_date as last_purchase_date,
        {{ dbt.datediff('p.last_return_date', 's.snapshot_date', 'day') }} as days_since_return,
        {{ dbt.datediff('p.purchase_date', 's.snapshot_date', 'day') }} as days_since_last_purchase,
        {{ dbt.datediff('p.first_purchase_date', 's.snapshot_date', 'day') }} as days_since_first_purchase
    from purchase_days as p
    inner join snapshots as s
        on s.snapshot_date >= p.purchase_date
        and (p.next_purchase_date is null or s.snapshot_date < p.next_purchase_date)

),

staged as (

    select
        customer_id,
        snapshot_date,
        case
            when days_since_first_purchase < {{ active_days }} then 'new'
            when days_since_return < {{ active_days }} then 'reactivated'
            when days_since_last_purchase < {{ active_days }} then 'active'
            when days_since_last_purchase < {{ lapsed_days }} then 'at risk'
            when days_since_last_purchase < {{ churned_days }} then 'lapsed'
            else 'churned'
        end as lifecycle_stage,
        last_purchase_date,
        cast(days_since_last_purchase as {{ dbt.type_int() }}) as days_since_last_purchase
    from latest

)

select * from staged

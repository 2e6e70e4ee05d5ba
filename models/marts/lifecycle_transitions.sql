-- One row per pair of consecutive snapshots and (from stage, to stage): how many customers moved, and what share
-- of the from-stage that is. Customers whose first purchase falls between the two snapshots come from '(new)'.
with lifecycle as (

    select * from {{ ref('customer_lifecycle') }}

),

snapshot_pairs as (

    select
        snapshot_date as to_snapshot,
        lag(snapshot_date) over (order by snapshot_date) as from_snapshot
    from {{ ref('int_snapshot_dates') }}

),

moves as (

    select
        p.from_snapshot,
        p.to_snapshot,
        coalesce(before.lifecycle_stage, '(new)') as from_stage,
        after.lifecycle_stage as to_stage
    from snapshot_pairs as p
    inner join lifecycle as after on after.snapshot_date = p.to_snapshot
    left join lifecycle as before
        on before.snapshot_date = p.from_snapshot and before.customer_id = after.customer_id
    where p.from_snapshot is not null

),

counted as (

    select from_snapshot, to_snapshot, from_stage, to_stage, count(*) as customers
    from moves
    group by from_snapshot, to_snapshot, from_stage, to_stage

)

select
    *,
    cast(customers as double) / sum(customers) over (partition by from_snapshot, from_stage) as share
from counted

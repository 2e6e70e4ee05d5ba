-- The categories and channels behind the compact mix features: slot n of `category_share_0n` is the n-th
-- category by purchase value, slot n of `channel_share_0n` the n-th channel by purchase orders. The rest are
-- pooled in the `_other` share.
with lines as (

    select * from {{ ref('stg_shop__transactions') }}
    where quantity > 0

),

orders as (

    select * from {{ ref('int_orders') }}
    where is_purchase

),

category_totals as (

    select 'category' as dimension, category as label, sum(line_amount) as weight
    from lines
    group by category

),

channel_totals as (

    select 'channel' as dimension, channel as label, cast(count(*) as decimal(18, 4)) as weight
    from orders
    group by channel

),

ranked as (

    select
        dimension,
        label,
        weight,
        row_number() over (partition by dimension order by weight desc, label) as slot
    from (
        select * from category_totals
        union all
        select * from channel_totals
    ) as totals

),

slots as (

    select
        dimension,
        cast(slot as {{ dbt.type_int() }}) as slot,
        label,
        cast(weight as double) / sum(weight) over (partition by dimension) as share_of_total
    from ranked

)

select * from slots
where (dimension = 'category' and slot <= {{ var('category_slots') }})
   or (dimension = 'channel' and slot <= {{ var('channel_slots') }})

{#- Per behavioural segment, the products that most distinguish it: lift = the share of the segment's customers
    who bought the product / the share of all segmented customers who did. At least var
    segment_top_products_min_customers of the segment's customers must have bought it (a product two customers
    bought is not a trait of a segment, and by default no group under SEGMENTS_MIN_GROUP_SIZE customers is shown
    in BI); the var segment_top_products_per_segment best per segment (ties: more buyers, then the smaller
    product id). -#}
{%- set min_customers = var('segment_top_products_min_customers', min_group_size()) | int -%}
{%- set per_segment = var('segment_top_products_per_segment', 10) -%}

with segments as (

    select customer_id, segment_id, segment_name
    from {{ ref('stg_ml__customer_segments') }}

),

customer_products as (

    select distinct customer_id, product_id
    from {{ ref('int_customer_product_days') }}

),

segment_sizes as (

    select segment_id, segment_name, count(*) as segment_customers
    from segments
    group by segment_id, segment_name

),

population as (

    select count(*) as customers from segments

),

product_buyers as (

    select customer_products.product_id, count(*) as buyers
    from customer_products
    inner join segments on segments.customer_id = customer_products.customer_id
    group by customer_products.product_id

),

segment_buyers as (

    select segments.segment_id, customer_products.product_id, count(*) as segment_buyers
    from customer_products
    inner join segments on segments.customer_id = customer_products.customer_id
    group by segments.segment_id, customer_products.product_id
    having count(*) >= {{ min_customers }}

),

lifted as (

    select
        segment_sizes.segment_id,
        segment_sizes.segment_name,
        segment_buyers.product_id,
        segment_buyers.segment_buyers,
        segment_sizes.segment_customers,
        cast(segment_buyers.segment_buyers as double) / segment_sizes.segment_customers as segment_share,
        cast(product_buyers.buyers as double) / population.customers as overall_share
    from segment_buyers
    inner join segment_sizes on segment_sizes.segment_id = segment_buyers.segment_id
    inner join product_buyers on product_buyers.product_id = segment_buyers.product_id
    cross join population

),

ranked as (

    select
        segment_id,
        segment_name,
        row_number() over (
            partition by segment_id order by segment_share / overall_share desc, segment_buyers desc, product_id
        ) as product_rank,
        product_id,
        segment_buyers,
        segment_customers,
        segment_share,
        overall_share,
        segment_share / overall_share as lift
    from lifted

)

select * from ranked
where product_rank <= {{ per_segment }}

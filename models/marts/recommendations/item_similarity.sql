{#- Item-to-item co-purchase: for each product, the products bought by the same customers, by cosine similarity
    of their buyer sets: support / sqrt(buyers of the product x buyers of the other), support = customers who
    bought both. Pairs under var recommendation_min_support customers are left out, and each product keeps its
    var recommendation_neighbours best (ties: the smaller product id). python_models.recommend.ItemKNN computes
    the same in memory for the recommenders; a test checks that the two agree row for row. -#}
{%- set min_support = var('recommendation_min_support', 2) -%}
{%- set neighbours = var('recommendation_neighbours', 50) -%}

with customer_products as (

    select distinct customer_id, product_id
    from {{ ref('int_customer_product_days') }}

),

buyers as (

    select product_id, count(*) as buyers
    from customer_products
    group by product_id

),

-- each unordered pair counted once (a third less time on Online Retail, whose wholesalers buy hundreds of
-- products each), then both directions
half_pairs as (

    select
        bought.product_id,
        also.product_id as similar_product_id,
        count(*) as support
    from customer_products as bought
    inner join customer_products as also
        on also.customer_id = bought.customer_id
        and also.product_id < bought.product_id
    group by bought.product_id, also.product_id
    having count(*) >= {{ min_support }}

),

pairs as (

    select product_id, similar_product_id, support from half_pairs
    union all
    select similar_product_id as product_id, product_id as similar_product_id, support from half_pairs

),

scored as (

    select
        pairs.product_id,
        pairs.similar_product_id,
        cast(pairs.support as double) / sqrt(cast(product.buyers as double) * cast(other.buyers as double)) as score,
        pairs.support
    from pairs
    inner join buyers as product on product.product_id = pairs.product_id
    inner join buyers as other on other.product_id = pairs.similar_product_id

),

ranked as (

    select
        product_id,
        similar_product_id,
        score,
        support,
        row_number() over (partition by product_id order by score desc, similar_product_id) as similarity_rank
    from scored

)

select * from ranked
where similarity_rank <= {{ neighbours }}

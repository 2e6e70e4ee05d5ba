{#- The next best action per customer: the first rule of the playbook (seed campaign_playbook, by priority) whose
    conditions all hold. A condition left empty in the seed holds for everyone.

    Hook for recommendations (none are built yet): set the var `campaign_recommendations` to the name of a model
    with one row per customer (`customer_id`, `products`: the products to offer, e.g. a list or a text) and the
    cross-sell rows get them in `cross_sell_products`; without it the column is null. -#}
{%- set recommendations = var('campaign_recommendations', none) -%}

with customers as (

    select customer_id, as_of_date, rfm_segment, segment_id, segment_name
    from {{ ref('customer_360') }}

),

lifecycle as (

    select customer_id, snapshot_date, lifecycle_stage
    from {{ ref('customer_lifecycle') }}

),

churn as (

    select customer_id, churn_risk
    from {{ source('ml', 'customer_clv') }}

),

profiles as (

    select
        customers.customer_id,
        customers.as_of_date,
        customers.rfm_segment,
        customers.segment_id,
        customers.segment_name,
        lifecycle.lifecycle_stage,
        churn.churn_risk
    from customers
    left join lifecycle
        on lifecycle.customer_id = customers.customer_id
        and lifecycle.snapshot_date = customers.as_of_date
    left join churn on churn.customer_id = customers.customer_id

),

rules as (

    select * from {{ ref('campaign_playbook') }}

),

first_match as (

    select
        profiles.customer_id,
        rules.rule_id,
        rules.priority,
        rules.action,
        rules.reason,
        concat_ws(', ',
            case when rules.rfm_segment is not null then 'RFM segment ' || profiles.rfm_segment end,
            case when rules.segment_name_pattern is not null or rules.segment_id is not null
                 then 'segment ' || profiles.segment_id || ' (' || profiles.segment_name || ')' end,
            case when rules.lifecycle_stage is not null then 'lifecycle ' || profiles.lifecycle_stage end,
            case when rules.churn_risk is not null then 'churn risk ' || profiles.churn_risk end
        ) as matched_on
    from profiles
    inner join rules
        on (rules.rfm_segment is null or rules.rfm_segment = profiles.rfm_segment)
        and (rules.segment_name_pattern is null or profiles.segment_name ilike rules.segment_name_pattern)
        and (rules.segment_id is null or rules.segment_id = profiles.segment_id)
        and (rules.lifecycle_stage is null or rules.lifecycle_stage = profiles.lifecycle_stage)
        and (rules.churn_risk is null or rules.churn_risk = profiles.churn_risk)
    qualify row_number() over (partition by profiles.customer_id order by rules.priority, rules.rule_id) = 1

),

{% if recommendations %}
recommendations as (

    select customer_id, products from {{ ref(recommendations) }}

),
{% endif %}

segment_actions as (

    select
        profiles.customer_id,
        profiles.as_of_date,
        coalesce(first_match.action, 'do-not-disturb') as next_best_action,
        coalesce(first_match.rule_id, '(no rule matched)') as rule_id,
        first_match.priority as rule_priority,
        coalesce(first_match.reason, 'No playbook rule matches this customer: no campaign') as reason,
        nullif(first_match.matched_on, '') as matched_on,
        {% if recommendations -%}
        case when first_match.action = 'cross-sell' then cast(recommendations.products as varchar) end
        {%- else -%}
        cast(null as varchar)
        {%- endif %} as cross_sell_products,
        profiles.rfm_segment,
        profiles.segment_id,
        profiles.segment_name,
        profiles.lifecycle_stage,
        profiles.churn_risk
    from profiles
    left join first_match on first_match.customer_id = profiles.customer_id
    {% if recommendations -%}
    left join recommendations on recommendations.customer_id = profiles.customer_id
    {%- endif %}

)

select * from segment_actions

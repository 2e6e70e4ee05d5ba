-- The snapshot date: SEGMENTS_AS_OF when set, else the day of the latest accepted order line (which is the latest
-- line not after today that passes every check: stg_shop__transaction_lines).
-- Built after the quarantine, so a run in which no line is accepted stops here with the reasons, and the
-- quarantine still shows every line:
-- depends_on: {{ ref('rejected_transactions') }}
{% set configured = segments.as_of_setting() %}
{% do segments.require_accepted_lines(ref('stg_shop__transaction_lines'), ref('rejected_transactions')) %}

with accepted as (

    select * from {{ ref('stg_shop__transactions') }}

),

renamed as (

    select
    {% if configured %}
        {{ configured }} as as_of_date,
        'SEGMENTS_AS_OF' as as_of_source
    {% else %}
        max(order_date) as as_of_date,
        'latest accepted order' as as_of_source
    from accepted
    {% endif %}

)

select * from renamed

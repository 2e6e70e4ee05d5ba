-- Every row of the optional segment labels file (segment_labels.csv: what analysts tagged or a survey asked),
-- typed, with the first reason it is not used, in this order: missing_customer_id, missing_label,
-- unknown_customer (no accepted order line), conflicting_label (the customer has two different labels: none of
-- them is trusted), duplicate_label (the same customer and label again: the first copy is kept).
with source as (

    select * from {{ source('shop', 'segment_labels') }}

),

typed as (

    select
        customer_id as raw_customer_id,
        label as raw_label,
        source as raw_source,
        {{ segments.clean_text('customer_id') }} as customer_id,
        {{ segments.clean_text('label') }} as label,
        coalesce({{ segments.clean_text('source') }}, 'unknown') as label_source
    from source

),

customers as (

    select distinct customer_id from {{ ref('stg_shop__transactions') }}

),

checked as (

    select
        typed.*,
        c.customer_id is not null as is_known,
        count(distinct typed.label) over (partition by typed.customer_id) as labels_of_customer,
        row_number() over (partition by typed.customer_id, typed.label order by typed.label_source) as copy_number
    from typed
    left join customers as c on c.customer_id = typed.customer_id

),

renamed as (

    select
        raw_customer_id,
        raw_label,
        raw_source,
        customer_id,
        label,
        label_source,
        case
            when customer_id is null then 'missing_customer_id'
            when label is null then 'missing_label'
            when not is_known then 'unknown_customer'
            when labels_of_customer > 1 then 'conflicting_label'
            when copy_number > 1 then 'duplicate_label'
        end as reject_reason
    from checked

)

select * from renamed

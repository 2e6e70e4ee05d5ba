-- Accepted segment labels: one per labelled customer (the rows stg_shop__segment_label_rows does not reject).
with source as (

    select * from {{ ref('stg_shop__segment_label_rows') }}
    where reject_reason is null

),

renamed as (

    select
        customer_id,
        label,
        label_source as source
    from source

)

select * from renamed

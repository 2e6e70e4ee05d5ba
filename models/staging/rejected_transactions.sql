{{ config(materialized="table", schema="main") }}

-- The quarantine: input lines that were not accepted, with their original text and the reason.
with source as (

    select * from {{ ref('stg_shop__transaction_lines') }}
    where reject_reason is not null

),

renamed as (

    select
        reject_reason,
        raw_order_id as order_id,
        raw_customer_id as customer_id,
        raw_order_ts as order_ts,
        raw_product_id as product_id,
        raw_category as category,
        raw_quantity as quantity,
        raw_unit_price as unit_price,
        raw_channel as channel
    from source

)

select * from renamed

{{ config(materialized="table", schema="main") }}

-- The labels' quarantine: rows of segment_labels.csv that are not used, with their original text and the reason.
with source as (

    select * from {{ ref('stg_shop__segment_label_rows') }}
    where reject_reason is not null

),

renamed as (

    select
        reject_reason,
        raw_customer_id as customer_id,
        raw_label as label,
        raw_source as source
    from source

)

select * from renamed

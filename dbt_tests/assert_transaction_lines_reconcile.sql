{{ config(meta={"dagster": {"ref": {"name": "rejected_transactions"}}}) }}

-- Every input line is either accepted or rejected, never both, never lost.
with counts as (

    select
        (select count(*) from {{ source('shop', 'transactions') }}) as input_rows,
        (select count(*) from {{ ref('stg_shop__transactions') }}) as accepted_rows,
        (select count(*) from {{ ref('rejected_transactions') }}) as rejected_rows

)

select * from counts
where input_rows <> accepted_rows + rejected_rows

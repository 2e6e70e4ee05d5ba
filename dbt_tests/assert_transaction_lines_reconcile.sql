{{ config(meta={"dagster": {"ref": {"name": "rejected_transactions"}}}) }}

-- Every input line is either accepted or rejected, never both, never lost.
-- The input side is counted on the raw view itself (source shop.transactions = raw.transactions, the file as
-- registered by register_raw_files at the start of this dbt invocation), not on stg_shop__transaction_lines, of
-- which accepted and rejected lines are two complementary filters and so always add up. Counted per customer (the
-- key cleaned as staging cleans it), so a line lost for one customer and one counted twice for another do not
-- cancel out. A failing row names the customer; a NULL customer_id stands for the lines without one.
with lines as (

    select {{ segments.clean_text('customer_id') }} as customer_id, 1 as input_rows, 0 as accepted_rows, 0 as rejected_rows
    from {{ source('shop', 'transactions') }}

    union all

    select customer_id, 0 as input_rows, 1 as accepted_rows, 0 as rejected_rows
    from {{ ref('stg_shop__transactions') }}

    union all

    select {{ segments.clean_text('customer_id') }} as customer_id, 0 as input_rows, 0 as accepted_rows, 1 as rejected_rows
    from {{ ref('rejected_transactions') }}

),

counts as (

    select
        customer_id,
        sum(input_rows) as input_rows,
        sum(accepted_rows) as accepted_rows,
        sum(rejected_rows) as rejected_rows
    from lines
    group by customer_id

)

select * from counts
where input_rows <> accepted_rows + rejected_rows

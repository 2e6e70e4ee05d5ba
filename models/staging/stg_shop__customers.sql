-- A table, not a view: its pre-hook sets the salt that hashes the personal columns (macro pii_hash) on this
-- model's connection only, and the post-hook clears it.
{{ config(materialized="table", pre_hook="{{ segments.set_pii_salt() }}", post_hook="{{ segments.clear_pii_salt() }}") }}

with source as (

    select * from {{ source('shop', 'customers') }}

),

renamed as (

    select
        {{ segments.clean_text('customer_id') }} as customer_id,
        cast({{ segments.parse_timestamp('signup_date') }} as date) as signup_date,
        {{ dbt.safe_cast(segments.clean_text('birth_year'), dbt.type_int()) }} as birth_year,
        coalesce(lower({{ segments.clean_text('gender') }}), 'unknown') as gender,
        coalesce({{ segments.clean_text('region') }}, 'unknown') as region,
        -- hashed as the file is read (macro pii_hash); null without SEGMENTS_PII_SALT
        email as email_hash,
        phone as phone_hash,
        name as name_hash
    from source

)

select * from renamed

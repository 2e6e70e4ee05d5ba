-- One row per pair of consecutive snapshots and (from stage, to stage): how many customers moved, and what share
-- of the from-stage that is. Customers whose first purchase falls between the two snapshots come from '(new)'.
with history as (

    select snapshot_date, customer_id, lifecycle_stage as stage from {{ ref('customer_lifecycle') }}

),

{{ segments.migration_matrix('history', {'stage': "'(new)'"}) }}

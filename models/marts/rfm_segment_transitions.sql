-- One row per pair of consecutive snapshots in segment_history and (from RFM segment, to RFM segment): how many
-- customers moved, and what share of the from-segment that is. Customers first seen at the later snapshot come
-- from '(new)'.
with history as (

    select * from {{ ref('stg_ml__segment_history') }}

),

{{ segments.migration_matrix('history', {'rfm_segment': "'(new)'"}) }}

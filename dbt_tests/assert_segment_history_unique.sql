{{ config(meta={"dagster": {"ref": {"name": "stg_ml__segment_history"}}}) }}

-- segment_history (written by Python, source ml.segment_history) has one row per snapshot and customer: a snapshot
-- written again must replace its rows, not add to them. Read through stg_ml__segment_history, a plain view of the
-- source, so the test hangs on a model: dagster-dbt selects tests through the models a run builds and never runs a
-- test that depends on a source only (source tests are not asset checks by default).
select snapshot_date, customer_id, count(*) as copies
from {{ ref('stg_ml__segment_history') }}
group by snapshot_date, customer_id
having count(*) > 1

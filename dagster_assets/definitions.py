"""The code location: `dagster asset materialize -m dagster_assets.definitions --select '*'` builds everything.

The monthly snapshot job (backfill it over past months for history), its schedule and the new-files sensor live
here too; the schedule and the sensor are off until turned on in the UI or with `dagster schedule/sensor start`.
"""

from dagster import Definitions, in_process_executor
from dagster_dbt import DbtCliResource

from .campaigns import CAMPAIGN_ASSETS
from .clv import clv_holdout_evaluation, clv_scores
from .dbt_models import dbt_models
from .deep import anomalies, synthetic
from .explanations import segment_explanations
from .meta import meta_learning
from .privacy import segment_counts_dp
from .project import DBT_EXECUTABLE, dbt_project
from .propensity import propensity
from .recommend import recommendations
from .segments import segmentation
from .snapshots import monthly_snapshot, monthly_snapshot_schedule, new_data_files, refresh_warehouse
from .validity import segment_validity
from .warehouse import Warehouse

defs = Definitions(
    assets=[dbt_models, segmentation, segment_explanations, clv_scores, clv_holdout_evaluation, propensity,
            segment_validity, segment_counts_dp, recommendations, anomalies, synthetic, meta_learning,
            *CAMPAIGN_ASSETS],
    jobs=[monthly_snapshot, refresh_warehouse],
    schedules=[monthly_snapshot_schedule],
    sensors=[new_data_files],
    resources={
        "dbt": DbtCliResource(project_dir=dbt_project, dbt_executable=str(DBT_EXECUTABLE)),
        "warehouse": Warehouse(),
    },
    # DuckDB has one writer: steps run one at a time in one process.
    executor=in_process_executor,
)

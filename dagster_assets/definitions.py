"""The code location: `dagster asset materialize -m dagster_assets.definitions --select '*'` builds everything."""

from dagster import Definitions, in_process_executor
from dagster_dbt import DbtCliResource

from .dbt_models import dbt_models
from .project import dbt_project
from .segments import segmentation
from .warehouse import Warehouse

defs = Definitions(
    assets=[dbt_models, segmentation],
    resources={
        "dbt": DbtCliResource(project_dir=dbt_project),
        "warehouse": Warehouse(),
    },
    # DuckDB has one writer: steps run one at a time in one process.
    executor=in_process_executor,
)

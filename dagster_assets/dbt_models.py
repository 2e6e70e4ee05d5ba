"""Every dbt model, seed and test as Dagster assets and checks, one asset per model, keyed by model name."""

from typing import Any, Iterator, Mapping

from dagster import AssetExecutionContext, AssetKey, Output
from dagster_dbt import DagsterDbtTranslator, DbtCliResource, dbt_assets

from .project import dbt_project, keep_parse
from .warehouse import PREVIEW_ROWS, Warehouse, table_metadata


class SegmentsTranslator(DagsterDbtTranslator):
    """Asset keys are model names (`customer_rfm`), groups are the model folders (staging, intermediate, marts).

    Sources keep dagster-dbt's default, or the `meta.dagster.asset_key` that the tables written by Python
    assets declare, which is what links those assets to the dbt models built on them.
    """

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> AssetKey:
        if dbt_resource_props["resource_type"] in ("model", "seed", "snapshot"):
            return AssetKey(dbt_resource_props["name"])
        return super().get_asset_key(dbt_resource_props)

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        if dbt_resource_props["resource_type"] == "seed":
            return "seeds"
        fqn = dbt_resource_props.get("fqn", [])
        return fqn[1] if len(fqn) > 2 else super().get_group_name(dbt_resource_props)


@dbt_assets(manifest=dbt_project.manifest_path, project=dbt_project, dagster_dbt_translator=SegmentsTranslator())
def dbt_models(context: AssetExecutionContext, dbt: DbtCliResource, warehouse: Warehouse) -> Iterator:
    """`dbt build` on the selected models: builds them and runs their tests and unit tests; a failure fails the run.

    Row counts and previews are added once dbt has finished and released the DuckDB file.
    """
    warehouse.path.parent.mkdir(parents=True, exist_ok=True)  # dbt creates the file, not its folder
    invocation = dbt.cli(["build"], context=context)
    events = list(invocation.stream())
    keep_parse(invocation.target_path, warehouse.dbt_target)
    with warehouse.connect(read_only=True) as con:
        for event in events:
            relation = isinstance(event, Output) and _table(context, context.asset_key_for_output(event.output_name))
            if not relation:
                yield event
                continue
            row_count = con.sql(f"select count(*) from {relation}").fetchall()[0][0]
            preview = con.sql(f"select * from {relation} limit {PREVIEW_ROWS}").df()
            yield event.with_metadata({**event.metadata, **table_metadata(row_count, preview)})


def _table(context: AssetExecutionContext, key: AssetKey) -> str | None:
    """`schema.table` of a model or seed built as a table, from the metadata dagster-dbt puts on its asset.

    Views get None: counting their rows would run them.
    """
    metadata = context.assets_def.metadata_by_key.get(key, {})
    if metadata.get("dagster-dbt/materialization_type") not in ("table", "seed"):
        return None
    return ".".join(str(metadata["dagster/table_name"]).split(".")[-2:])

"""The same dbt project on Spark (issue 14): equal feature tables, the segmentation step on Spark, MLlib K-Means.

The demo test shop (conftest's demo_data, with its planted bad lines) is built once with each engine: DuckDB with
the dbt CLI, Spark in this process (tests/spark_support.py), so the Python steps read Spark's tables through the same
session. Skipped, with the reason, where Java or the `spark` extra is missing.
"""

import datetime as dt

import duckdb
import numpy as np
import pyarrow as pa
import pytest
from sklearn.metrics import adjusted_rand_score

from tests.pipeline import dbt_build, settings
from tests.spark_support import REL_TOL, dbt_on_spark, differences, spark_missing

MISSING = spark_missing()
if MISSING:
    print(f"\ntests/test_spark_parity.py skipped: {MISSING}")
pytestmark = pytest.mark.skipif(MISSING is not None, reason=MISSING or "")

FEATURE_MARTS = ["+customer_features", "+customer_clv_summary", "+clv_calibration_summary", "+lifecycle_transitions",
                 "+propensity_examples", "rejected_transactions", "int_customer_items"]
TRANSITIONS = ["stg_ml__segment_history", "segment_transitions", "rfm_segment_transitions"]
# every table from staging to the feature marts that is materialized as a table, the quarantine included
TABLES = ["main.rejected_transactions", "staging.stg_shop__transaction_lines", "staging.stg_shop__customers",
          "intermediate.int_orders", "intermediate.int_customer_purchase_days", "intermediate.int_customer_items",
          "main.feature_slots", "main.customer_rfm", "main.customer_behavior", "main.customer_features",
          "main.customer_clv_summary", "main.clv_calibration_summary", "main.customer_lifecycle",
          "main.lifecycle_transitions", "main.propensity_examples"]


@pytest.fixture(scope="module")
def engines(demo_data, tmp_path_factory):
    """The feature marts of the demo shop on DuckDB (a file) and on Spark (this process's session)."""
    from dagster_assets.warehouse import SparkWarehouse, spark_session

    data_dir, _ = demo_data
    root = tmp_path_factory.mktemp("spark_parity")
    duck = root / "segments.duckdb"
    dbt_build(data_dir, duck, FEATURE_MARTS)
    spark_dir = root / "spark"  # its own tables and catalogue: one Spark run at a time may use one
    # models, seeds and unit tests; the data tests, which pass on Spark too, would double the time (README)
    dbt_on_spark(data_dir, spark_dir, ["build", "--exclude-resource-type", "test", "--select", *FEATURE_MARTS])
    with settings(SEGMENTS_SPARK_DIR=str(spark_dir)):
        spark = SparkWarehouse(spark_dir, spark_session())
    return duck, spark, data_dir, spark_dir


def read_duckdb(database, sql: str) -> pa.Table:
    with duckdb.connect(str(database), read_only=True) as con:
        return con.sql(sql).arrow().read_all()


@pytest.mark.parametrize("table", TABLES)
def test_table_is_equal_row_for_row_on_both_engines(engines, table):
    duck, spark, _, _ = engines
    on_duckdb, on_spark = read_duckdb(duck, f"select * from {table}"), spark.read_arrow(f"select * from {table}")
    assert on_duckdb.num_rows > 0
    assert differences(on_duckdb, on_spark) == [], f"{table} differs (floats compared to {REL_TOL:g} relative)"


def test_contract_types_are_equal_on_both_engines(engines):
    """The marts Python reads have the same Arrow types (instants aside: Spark's carry their UTC zone)."""
    duck, spark, _, _ = engines
    for table in ["main.customer_features", "main.customer_rfm", "main.customer_behavior", "main.feature_slots",
                  "main.customer_clv_summary", "main.clv_calibration_summary"]:
        assert read_duckdb(duck, f"select * from {table} limit 0").schema == \
            spark.read_arrow(f"select * from {table} limit 0").schema, table


def test_rejected_lines_on_spark_are_the_planted_ones(engines, demo_data):
    """Known truth: the generator's record of the bad lines it planted, reason by reason."""
    _, spark, _, _ = engines
    _, truth = demo_data
    counts = spark.read_arrow("select reject_reason, count(*) as n from main.rejected_transactions "
                              "group by reject_reason")
    got = {row["reject_reason"]: row["n"] for row in counts.to_pylist()}
    assert got == {reason: n for reason, n in truth["rejected_by_reason"].items() if n}


@pytest.fixture(scope="module")
def segmented(engines):
    """The segmentation step (K-Means candidates) run on each engine's tables, written back to that engine."""
    from dagster_assets.history import Snapshot, fit_snapshot, write_history
    from dagster_assets.segments import SegmentationConfig
    from dagster_assets.warehouse import Warehouse

    duck, spark, _, _ = engines
    config = SegmentationConfig(algorithms=["kmeans"], k_max=6, n_bootstrap=2)
    results = {}
    with settings(SEGMENTS_DUCKDB_PATH=str(duck)):
        for name, warehouse in (("duckdb", Warehouse()), ("spark", spark)):
            tracked = fit_snapshot(Snapshot.read(warehouse), warehouse, config)
            warehouse.write_table("customer_segments", tracked.segments)
            write_history(warehouse, tracked, config.drift_threshold, None)
            results[name] = tracked
    return results


def test_segmentation_step_runs_on_spark_and_writes_back_to_spark(engines, segmented):
    duck, spark, _, _ = engines
    on_spark = spark.read_arrow("select customer_id, segment_id, distance from main.customer_segments")
    on_duckdb = read_duckdb(duck, "select customer_id, segment_id, distance from main.customer_segments")
    assert on_spark.num_rows == spark.read_arrow("select count(*) as n from main.customer_features")["n"][0].as_py()
    assert differences(on_duckdb, on_spark) == []
    assert spark.has_table("segment_history") and spark.has_table("segment_drift")


def test_transition_models_are_equal_on_both_engines(engines, segmented):
    """segment_transitions and rfm_segment_transitions over two snapshots: the one just written, and an earlier one
    (its rows moved a month back, every segment id moved to the next one) written to both engines alike."""
    duck, spark, data_dir, spark_dir = engines
    history = segmented["spark"].history()
    earlier = history.set_column(history.schema.get_field_index("snapshot_date"), "snapshot_date",
                                 pa.array([history["snapshot_date"][0].as_py() - dt.timedelta(days=31)]
                                          * history.num_rows, pa.date32()))
    ids = earlier["segment_id"].to_numpy()
    earlier = earlier.set_column(earlier.schema.get_field_index("segment_id"), "segment_id",
                                 pa.array(np.where(ids > 0, ids % ids.max() + 1, ids), pa.int32()))
    date = earlier["snapshot_date"][0].as_py()
    with settings(SEGMENTS_DUCKDB_PATH=str(duck)):
        from dagster_assets.warehouse import Warehouse

        Warehouse().replace_rows("segment_history", earlier, "snapshot_date", date)
    spark.replace_rows("segment_history", earlier, "snapshot_date", date)
    dbt_build(data_dir, duck, TRANSITIONS)
    dbt_on_spark(data_dir, spark_dir, ["run", "--select", *TRANSITIONS])
    for table in ("main.segment_transitions", "main.rfm_segment_transitions"):
        on_duckdb = read_duckdb(duck, f"select * from {table}")
        assert on_duckdb.num_rows > 0
        assert differences(on_duckdb, spark.read_arrow(f"select * from {table}")) == [], table


def test_mllib_kmeans_agrees_with_scikit_learn(engines):
    """Spark MLlib's K-Means on the transformed features, with k and the transform chosen on a sample (here the
    whole shop), gives the segments of the scikit-learn path: ARI >= 0.95. Assignments are written in Spark."""
    from python_models.segmentation import segment_customers
    from python_models.segmentation.spark_kmeans import SparkKMeans

    duck, spark, _, _ = engines
    features = spark.session.table("main.customer_features")
    model = SparkKMeans(k_range=range(4, 7), n_bootstrap=2).fit(features)
    model.transform(features).write.mode("overwrite").saveAsTable("main.customer_segments_mllib")
    mllib = spark.read_frame("select customer_id, label from main.customer_segments_mllib order by customer_id")

    local = read_duckdb(duck, "select * from main.customer_features order by customer_id").to_pandas()
    sklearn = segment_customers(local, k_range=range(4, 7), algorithms=("kmeans",), n_bootstrap=2)
    assert model.n_clusters_ == sklearn.n_clusters
    assert mllib["customer_id"].tolist() == local["customer_id"].tolist()
    assert adjusted_rand_score(sklearn.labels, mllib["label"]) >= 0.95

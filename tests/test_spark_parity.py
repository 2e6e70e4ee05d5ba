"""The same dbt project on Spark (issue 14): equal feature tables, the segmentation step on Spark, MLlib K-Means.

The demo test shop (conftest's demo_data, with its planted bad lines) is built once with each engine: DuckDB with
the dbt CLI, Spark in this process (tests/spark_support.py), so the Python steps read Spark's tables through the same
session. Skipped, with the reason, where Java or the `spark` extra is missing.
"""

import datetime as dt

import duckdb
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


def planted_history() -> pa.Table:
    """segment_history as the Python step writes it, two month ends: of the 30 customers in segment 1 in January,
    20 stay and 10 move to segment 2, where 10 others stay; 5 customers are new in February, in segment 1. Dated
    2099, after the shop's snapshot, so the segmentation step below inherits no segment ids from them."""
    january = [(f"c{i:02d}", 1 if i <= 30 else 2) for i in range(1, 41)]
    february = [(f"c{i:02d}", 1 if i <= 20 or i > 40 else 2) for i in range(1, 46)]
    rows = [(dt.date(2099, 1, 31), c, k) for c, k in january] + [(dt.date(2099, 2, 28), c, k) for c, k in february]
    return pa.table({
        "snapshot_date": pa.array([r[0] for r in rows], pa.date32()),
        "customer_id": [r[1] for r in rows],
        "segment_id": pa.array([r[2] for r in rows], pa.int32()),
        "segment_name": ["Loyal big spenders" if r[2] == 1 else "Occasional" for r in rows],
        "rfm_segment": ["Champions" if r[2] == 1 else "At Risk" for r in rows],
        "distance": [0.5] * len(rows),
        "model_version": ["kmeans-k2-planted"] * len(rows),
    })


@pytest.fixture(scope="module")
def engines(demo_data, tmp_path_factory):
    """The feature marts of the demo shop, and the transition models of a planted segment_history, on DuckDB (a
    file) and on Spark (this process's session)."""
    from dagster_assets.warehouse import SparkWarehouse, spark_session

    data_dir, _ = demo_data
    root = tmp_path_factory.mktemp("spark_parity")
    duck = root / "segments.duckdb"
    spark_dir = root / "spark"  # its own tables and catalogue: one Spark run at a time may use one
    with settings(SEGMENTS_SPARK_DIR=str(spark_dir)):
        spark = SparkWarehouse(spark_dir, spark_session())  # the session dbt-spark's session mode then takes
    with duckdb.connect(str(duck)) as con:
        con.register("history", planted_history())
        con.execute("create table main.segment_history as select * from history")
    spark.write_table("segment_history", planted_history())
    dbt_build(data_dir, duck, FEATURE_MARTS + TRANSITIONS)
    # models and seeds; the data and unit tests, which pass on Spark too, would double the time (README)
    dbt_on_spark(data_dir, spark_dir, ["build", "--exclude-resource-type", "test", "--exclude-resource-type",
                                       "unit_test", "--select", *FEATURE_MARTS, *TRANSITIONS])
    yield duck, spark
    spark.session.stop()  # the executors' memory back to the tests that follow on this worker


def read_duckdb(database, sql: str) -> pa.Table:
    with duckdb.connect(str(database), read_only=True) as con:
        return con.sql(sql).arrow().read_all()


@pytest.mark.parametrize("table", TABLES)
def test_table_is_equal_row_for_row_on_both_engines(engines, table):
    duck, spark = engines
    on_duckdb, on_spark = read_duckdb(duck, f"select * from {table}"), spark.read_arrow(f"select * from {table}")
    assert on_duckdb.num_rows > 0
    assert differences(on_duckdb, on_spark) == [], f"{table} differs (floats compared to {REL_TOL:g} relative)"


def test_contract_types_are_equal_on_both_engines(engines):
    """The marts Python reads have the same Arrow types (instants aside: Spark's carry their UTC zone)."""
    duck, spark = engines
    for table in ["main.customer_features", "main.customer_rfm", "main.customer_behavior", "main.feature_slots",
                  "main.customer_clv_summary", "main.clv_calibration_summary"]:
        assert read_duckdb(duck, f"select * from {table} limit 0").schema == \
            spark.read_arrow(f"select * from {table} limit 0").schema, table


def test_rejected_lines_on_spark_are_the_planted_ones(engines, demo_data):
    """Known truth: the generator's record of the bad lines it planted, reason by reason."""
    _, spark = engines
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

    duck, spark = engines
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
    duck, spark = engines
    on_spark = spark.read_arrow("select customer_id, segment_id, distance from main.customer_segments")
    on_duckdb = read_duckdb(duck, "select customer_id, segment_id, distance from main.customer_segments")
    assert on_spark.num_rows == spark.read_arrow("select count(*) as n from main.customer_features")["n"][0].as_py()
    assert differences(on_duckdb, on_spark) == []
    assert spark.has_table("segment_history") and spark.has_table("segment_drift")


def test_transition_models_are_equal_on_both_engines(engines):
    duck, spark = engines
    for table in ("main.segment_transitions", "main.rfm_segment_transitions"):
        on_duckdb = read_duckdb(duck, f"select * from {table}")
        assert on_duckdb.num_rows > 0
        assert differences(on_duckdb, spark.read_arrow(f"select * from {table}")) == [], table


def test_segment_transitions_on_spark_count_the_planted_moves(engines):
    """Known truth: 20 stay in 1 (of 30), 10 move to 2, 10 stay in 2; the 5 new customers are under
    SEGMENTS_MIN_GROUP_SIZE (10), so their cell is suppressed."""
    _, spark = engines
    got = spark.read_arrow("select from_segment_id, to_segment_id, customers, share, is_suppressed "
                           "from main.segment_transitions").to_pylist()
    cells = sorted((r["from_segment_id"] or 0, r["to_segment_id"], r["customers"], r["share"], r["is_suppressed"])
                   for r in got)
    assert cells == [(0, 1, None, None, True), (1, 1, 20, pytest.approx(2 / 3), False),
                     (1, 2, 10, pytest.approx(1 / 3), False), (2, 2, 10, 1.0, False)]


def test_mllib_kmeans_agrees_with_scikit_learn(engines):
    """Spark MLlib's K-Means on the transformed features, with k and the transform chosen on a 1,000-customer
    sample (a third of the shop, so the sampling and MLlib's own iterations over every customer both matter), gives
    the segments of the scikit-learn path on the whole shop: the same k, ARI >= 0.95. Assignments are written in
    Spark."""
    from python_models.segmentation import segment_customers
    from python_models.segmentation.spark_kmeans import SparkKMeans

    duck, spark = engines
    features = spark.session.table("main.customer_features")
    model = SparkKMeans(k_range=range(4, 7), n_bootstrap=2, sample_size=1000).fit(features)
    model.transform(features).write.mode("overwrite").saveAsTable("main.customer_segments_mllib")
    mllib = spark.read_frame("select customer_id, label from main.customer_segments_mllib order by customer_id")

    local = read_duckdb(duck, "select * from main.customer_features order by customer_id").to_pandas()
    sklearn = segment_customers(local, k_range=range(4, 7), algorithms=("kmeans",), n_bootstrap=2)
    assert model.n_clusters_ == sklearn.n_clusters
    assert mllib["customer_id"].tolist() == local["customer_id"].tolist()
    assert adjusted_rand_score(sklearn.labels, mllib["label"]) >= 0.95

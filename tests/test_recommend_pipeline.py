"""Recommendations through the real graph on the 3,000-customer demo shop (planted personas), the tables built on
them, a rerun of the asset, and a shop without product ids."""

import shutil

import duckdb
import numpy as np
import pandas as pd
from dagster import DagsterInstance, materialize

from dagster_assets.recommend import recommendations
from dagster_assets.warehouse import Warehouse
from python_models.recommend import ItemKNN, PurchaseHistory
from tests.pipeline import frame, query, settings

SOURCES = {"repeat", "item_knn", "ease", "als", "popularity"}


def test_every_customer_gets_ten_distinct_ranked_products_with_a_reason(demo_warehouse):
    lists = frame(demo_warehouse, "select * from customer_recommendations")
    customers = {row[0] for row in query(demo_warehouse, "select customer_id from customer_360")}
    assert set(lists["customer_id"]) == customers
    ranks = lists.groupby("customer_id")["rank"].agg(lambda r: sorted(r) == list(range(1, 11)))
    assert ranks.all()
    assert not lists.duplicated(["customer_id", "product_id"]).any()
    assert set(lists["source"]) <= SOURCES and lists["reason"].str.len().min() > 0
    best_first = lists.sort_values(["customer_id", "rank"]).groupby("customer_id")["score"].is_monotonic_decreasing
    assert best_first.all()


def test_is_repeat_and_the_repeat_source_mean_bought_before(demo_warehouse):
    (wrong,), = query(demo_warehouse, """
        select count(*) from customer_recommendations as r
        left join (select distinct customer_id, product_id from intermediate.int_customer_product_days) as b
            on b.customer_id = r.customer_id and b.product_id = r.product_id
        where r.is_repeat <> (b.product_id is not null) or (r.source = 'repeat') <> r.is_repeat""")
    assert wrong == 0


def test_metrics_cover_every_recommender_and_the_blend_beats_popularity_on_planted_personas(demo_warehouse):
    metrics = frame(demo_warehouse, "select * from recommendation_metrics")
    assert len(metrics) == 6 * 5 * 2 * 3  # recommenders x (4 metrics + coverage) x k x item scopes
    assert metrics["value"].between(0, 1).all()
    recall = metrics.query("metric == 'recall' and k == 10 and item_scope == 'all'").set_index("recommender")
    assert recall.loc["blend", "value"] >= 2 * recall.loc["popularity", "value"]
    targets = metrics.dropna(subset=["target"])
    assert set(zip(targets["recommender"], targets["item_scope"], targets["k"])) == {("blend", "all", 10),
                                                                                    ("blend", "new", 10)}


def test_customer_360_shows_the_first_three(demo_warehouse):
    (mismatches,), = query(demo_warehouse, """
        select count(*) from customer_360 as c
        left join customer_recommendations as r1 on r1.customer_id = c.customer_id and r1.rank = 1
        left join customer_recommendations as r3 on r3.customer_id = c.customer_id and r3.rank = 3
        where c.recommended_product_1 is distinct from r1.product_id
           or c.recommended_product_3 is distinct from r3.product_id""")
    assert mismatches == 0


def test_item_similarity_in_sql_is_the_library_item_knn(demo_warehouse):
    rows = frame(demo_warehouse, "select customer_id, product_id, purchase_date "
                                 "from intermediate.int_customer_product_days")
    history = PurchaseHistory.from_frame(rows)
    model = ItemKNN(min_support=2, neighbours=50).fit(history.window(history.last_day + 1))
    python = model.similarity_.tocoo()
    expected = pd.DataFrame({"product_id": history.products[python.row],
                             "similar_product_id": history.products[python.col], "score": python.data,
                             "support": np.asarray(model.support_[python.row, python.col]).ravel()})
    sql = frame(demo_warehouse, "select product_id, similar_product_id, score, support from item_similarity")
    both = sql.merge(expected, on=["product_id", "similar_product_id"], how="outer", indicator=True)
    assert (both["_merge"] == "both").all() and len(sql) > 0
    assert np.allclose(both["score_x"], both["score_y"], rtol=1e-5) and (both["support_x"] == both["support_y"]).all()


def test_segment_top_products_are_the_highest_lifts(demo_warehouse):
    buyers = frame(demo_warehouse, """
        select distinct s.segment_id, p.customer_id, p.product_id
        from intermediate.int_customer_product_days as p
        inner join customer_segments as s on s.customer_id = p.customer_id""")
    sizes = frame(demo_warehouse, "select segment_id, count(*) as n from customer_segments group by 1")
    sizes = sizes.set_index("segment_id")["n"]
    overall = buyers.groupby("product_id")["customer_id"].nunique() / sizes.sum()
    counts = buyers.groupby(["segment_id", "product_id"]).size().rename("segment_buyers").reset_index()
    counts = counts[counts["segment_buyers"] >= 10]  # SEGMENTS_MIN_GROUP_SIZE's default: smaller groups not shown
    counts["lift"] = counts["segment_buyers"] / counts["segment_id"].map(sizes) / counts["product_id"].map(overall)
    best = counts.sort_values(["segment_id", "lift", "segment_buyers", "product_id"],
                              ascending=[True, False, False, True]).groupby("segment_id").head(10)
    table = frame(demo_warehouse, "select segment_id, product_id, lift from segment_top_products "
                                  "order by segment_id, product_rank")
    assert table["product_id"].tolist() == best["product_id"].tolist()
    assert np.allclose(table["lift"], best["lift"])


def run_recommendations(database):
    """Only the recommendations asset, on a warehouse whose inputs are already built."""
    with settings(SEGMENTS_DUCKDB_PATH=str(database)):
        result = materialize([recommendations], resources={"warehouse": Warehouse()},
                             instance=DagsterInstance.ephemeral())
    assert result.success
    return result.asset_materializations_for_node("recommendations")


def test_the_same_purchases_give_the_same_tables(demo_warehouse, tmp_path):
    again = tmp_path / "again.duckdb"
    shutil.copy(demo_warehouse, again)
    run_recommendations(again)
    for table in ("customer_recommendations", "recommendation_metrics"):
        first, second = (frame(db, f"select * from {table} order by all") for db in (demo_warehouse, again))
        pd.testing.assert_frame_equal(first, second, check_exact=True)


def test_a_shop_without_product_ids_gets_empty_tables_and_the_reason(demo_warehouse, tmp_path):
    # without a product_id column every line's product is null, so int_customer_product_days is empty
    database = tmp_path / "no_products.duckdb"
    shutil.copy(demo_warehouse, database)
    with duckdb.connect(str(database)) as con:
        con.execute("delete from intermediate.int_customer_product_days")
    materializations = run_recommendations(database)
    assert all("product id" in m.metadata["skipped"].value for m in materializations)
    assert query(database, "select count(*) from customer_recommendations") == [(0,)]
    assert query(database, "select count(*) from recommendation_metrics") == [(0,)]

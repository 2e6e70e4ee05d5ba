"""segment_validity: eta² by hand and against scipy, then through the real graph on a planted shop and the demo.

The planted shop: 900 customers in three personas that differ only in what they buy, where and at what price
(as in test_segment_history), all first seen before the cutoff, so the behavioural segments at the cutoff are the
personas. After the cutoff the personas behave differently, with noise within each: toys customers buy on one day
(some in two orders that day), half of the books customers buy once and the rest not at all, garden customers buy
on three days and return part of one order. 20 customers who first buy after the cutoff are not scored. The
expected eta² are computed from the planted lines by least squares on persona indicators (R²), a different route
from the asset's sums of squares.
"""

import datetime as dt
import shutil

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from python_models.segmentation import eta_squared, segment_validity
from tests.pipeline import frame, materialize, query

AS_OF = dt.date(2024, 6, 30)
CUTOFF = AS_OF - dt.timedelta(days=90)  # 2024-04-01
HISTORY_START = dt.date(2024, 3, 1)  # the first orders
PERSONAS = {  # category, channel, unit price range
    "toys": ("Toys", "app", (20.0, 40.0)),
    "books": ("Books", "web", (5.0, 15.0)),
    "garden": ("Garden", "store", (60.0, 120.0)),
}
NEWCOMERS = [f"n{i:03d}" for i in range(20)]
# rejected_transactions too: the reconciliation test reads it
TARGETS = ["segment_validity", "rejected_transactions"]


# -- the pure function ------------------------------------------------------------------------------------------

def test_eta_squared_by_hand():
    # groups a: 1, 2, 3 (mean 2); b: 4, 8 (mean 6); c: 10 (mean 10). Overall mean 28 / 6 = 14/3.
    # between = 3·(2 - 14/3)² + 2·(6 - 14/3)² + 1·(10 - 14/3)² = 3·64/9 + 2·16/9 + 256/9 = 480/9 = 160/3
    # within  = (1+0+1) + (4+4) + 0 = 10, so total = 160/3 + 10 = 190/3 and eta² = 160/190 = 16/19
    values = [1, 2, 3, 4, 8, 10]
    groups = ["a", "a", "a", "b", "b", "c"]
    assert eta_squared(values, groups) == pytest.approx(16 / 19, rel=1e-12)
    # the order of the rows and the labels' type do not matter
    assert eta_squared(values[::-1], [1, 2, 2, 3, 3, 3]) == pytest.approx(16 / 19, rel=1e-12)
    # one group explains nothing; one group per value explains everything
    assert eta_squared(values, ["x"] * 6) == 0.0
    assert eta_squared(values, list("uvwxyz")) == pytest.approx(1.0)
    # no variance to explain
    assert np.isnan(eta_squared([5.0, 5.0, 5.0], [0, 1, 1]))
    with pytest.raises(ValueError, match="missing"):
        eta_squared([1.0, np.nan], [0, 1])
    with pytest.raises(ValueError, match="equal length"):
        eta_squared([1.0, 2.0], [0])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_eta_squared_matches_scipy_f_oneway(seed):
    rng = np.random.default_rng(seed)
    k = int(rng.integers(2, 8))
    groups = rng.integers(0, k, 500)
    values = rng.gamma(2.0, 30.0, 500) * (1 + 0.3 * groups)  # skewed, like spend, with real group effects
    present = np.unique(groups)
    f, _ = stats.f_oneway(*(values[groups == g] for g in present))
    df_between, df_within = len(present) - 1, len(values) - len(present)
    expected = f * df_between / (f * df_between + df_within)
    assert eta_squared(values, groups) == pytest.approx(expected, rel=1e-10)


def test_segment_validity_aligns_customers_and_skips_missing_segments():
    outcomes = pd.DataFrame({"spend": [0.0, 10.0, 100.0, 120.0, 7.0]}, index=list("abcde"))
    segments = {"s": pd.Series([1, 1, 2, 2, None, 3], index=list("abcdez"))}  # e: no segment, z: no outcome
    table = segment_validity(outcomes, segments)
    assert table[["n_customers", "n_segments"]].values.tolist() == [[4, 2]]
    assert table["eta_squared"].iloc[0] == pytest.approx(eta_squared([0, 10, 100, 120], [1, 1, 2, 2]))


# -- through the graph: a planted shop --------------------------------------------------------------------------

def write_planted_shop(folder) -> tuple[pd.DataFrame, pd.Series]:
    """The shop's transactions.csv; returns its lines and each first-seen-before-cutoff customer's persona."""
    folder.mkdir(parents=True)
    rng = np.random.default_rng(5)
    ids = np.array([f"c{i:04d}" for i in range(900)])
    persona = np.array(["toys"] * 300 + ["books"] * 300 + ["garden"] * 300)
    rows = []

    def line(customer, kind, ts, quantity, position):
        category, channel, (low, high) = PERSONAS[kind]
        rows.append({"customer_id": customer, "order_ts": ts, "product_id": f"{category[:2].upper()}-1",
                     "category": category, "channel": channel, "quantity": quantity,
                     "unit_price": round(low + position * (high - low), 2)})

    def at(day: dt.date, i: int) -> str:
        return f"{day.isoformat()} {8 + i % 10:02d}:{rng.integers(0, 60):02d}:00"

    # before the cutoff: every persona orders alike (3-8 orders in the month before, the first in its first three
    # days and the last in its last three, so no customer stands out by a short tenure); only what, where and at
    # what price differ
    for customer, kind in zip(ids, persona):
        n_orders = int(rng.integers(3, 9))
        offsets = [rng.integers(0, 3), rng.integers(28, 31), *rng.integers(0, 31, n_orders - 2)]
        for i, offset in enumerate(offsets):
            day = HISTORY_START + dt.timedelta(days=int(offset))
            line(customer, kind, at(day, i), int(rng.integers(1, 4)), rng.uniform())
    # after the cutoff: the personas part ways
    window = [CUTOFF + dt.timedelta(days=int(d)) for d in rng.choice(np.arange(1, 91), 3, replace=False)]
    for customer, kind in zip(ids, persona):
        if kind == "toys":  # one purchase day; a third of them in two orders that day
            for i in range(1 + (rng.uniform() < 1 / 3)):
                line(customer, kind, at(window[0], i), int(rng.integers(1, 4)), rng.uniform())
        elif kind == "books" and rng.uniform() < 0.5:  # half buy once
            line(customer, kind, at(window[1], 0), 1, rng.uniform())
        elif kind == "garden":  # three purchase days, and part of the second order comes back
            for i, day in enumerate(window):
                line(customer, kind, at(day, i), int(rng.integers(2, 5)), rng.uniform())
            last = rows[-2]
            rows.append({**last, "order_ts": last["order_ts"][:11] + "21:00:00", "quantity": -1})
    for customer in NEWCOMERS:  # first seen after the cutoff: not scored
        line(customer, "garden", at(window[2], 0), 5, 1.0)

    lines = pd.DataFrame(rows)
    lines.insert(0, "order_id", [f"o{i:06d}" for i in range(len(lines))])
    lines.to_csv(folder / "transactions.csv", index=False)
    return lines, pd.Series(persona, index=ids)


def r_squared_on_indicators(values: pd.Series, groups: pd.Series) -> float:
    """R² of least squares on one indicator column per group: eta² by another route."""
    design = pd.get_dummies(groups).to_numpy(float)
    y = values.to_numpy(float)
    coef, *_ = np.linalg.lstsq(design, y, rcond=None)
    residual = y - design @ coef
    return 1 - residual @ residual / ((y - y.mean()) @ (y - y.mean()))


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    root = tmp_path_factory.mktemp("planted_validity")
    lines, personas = write_planted_shop(root / "shop")
    database = root / "warehouse" / "segments.duckdb"
    # three personas: let the model choice look below its default of 4 segments
    result = materialize(root / "shop", database, TARGETS, SEGMENTS_AS_OF=AS_OF.isoformat(),
                         run_config={"ops": {"segmentation": {"config": {"k_min": 2}}}})
    assert result.success
    return root, database, lines, personas


def planted_outcomes(lines: pd.DataFrame, customers: pd.Index) -> pd.DataFrame:
    """Net spend and purchase days after the cutoff per customer, from the planted lines, 0 when none."""
    ts = pd.to_datetime(lines["order_ts"])
    later = lines[(ts.dt.date > CUTOFF) & (ts.dt.date <= AS_OF)].assign(
        amount=lambda d: d["quantity"] * d["unit_price"], day=ts.dt.date)
    spend = later.groupby("customer_id")["amount"].sum()
    days = later[later["quantity"] > 0].groupby("customer_id")["day"].nunique()
    return pd.DataFrame({"spend_next_90d": spend.reindex(customers, fill_value=0.0),
                         "purchases_next_90d": days.reindex(customers, fill_value=0).astype(float)})


def test_planted_personas_explain_their_future(planted):
    _, database, lines, personas = planted
    table = frame(database, "select * from segment_validity order by segmentation, outcome")
    assert len(table) == 4
    assert set(table["snapshot_date"].astype(str)) == {AS_OF.isoformat()}
    assert set(table["holdout_start"].astype(str)) == {CUTOFF.isoformat()}
    assert set(table["holdout_end"].astype(str)) == {AS_OF.isoformat()}
    assert (table["n_customers"] == 900).all()  # the 20 newcomers are not known at the cutoff

    outcomes = planted_outcomes(lines, personas.index)
    # planted by persona: toys 1 purchase day, books 0 or 1, garden 3; the spend of each differs widely
    assert outcomes.groupby(personas)["purchases_next_90d"].agg(["min", "max"]).to_dict("index") == {
        "books": {"min": 0.0, "max": 1.0}, "garden": {"min": 3.0, "max": 3.0}, "toys": {"min": 1.0, "max": 1.0}}
    behavioural = table[table["segmentation"] == "behavioural"].set_index("outcome")
    assert (behavioural["n_segments"] == 3).all() and (behavioural["k"] == 3).all()
    assert behavioural["model_version"].notna().all() and behavioural["algorithm"].notna().all()
    for outcome in ("spend_next_90d", "purchases_next_90d"):
        expected = r_squared_on_indicators(outcomes[outcome], personas)
        assert behavioural.loc[outcome, "eta_squared"] == pytest.approx(expected, rel=1e-9)
    assert behavioural["eta_squared"].min() > 0.8  # the personas' futures differ by far more than within


def test_planted_rfm_segments_at_the_cutoff(planted):
    _, database, lines, _ = planted
    rfm = frame(database, "select customer_id, rfm_segment, as_of_date from holdout_main.customer_rfm")
    assert set(rfm["as_of_date"].astype(str)) == {CUTOFF.isoformat()} and len(rfm) == 900
    rfm = rfm.set_index("customer_id")["rfm_segment"]
    outcomes = planted_outcomes(lines, rfm.index)
    table = frame(database, "select * from segment_validity where segmentation = 'rfm'").set_index("outcome")
    assert (table["n_segments"] == rfm.nunique()).all()
    assert table["model_version"].isna().all() and table["k"].isna().all()
    for outcome in ("spend_next_90d", "purchases_next_90d"):
        assert table.loc[outcome, "eta_squared"] == pytest.approx(r_squared_on_indicators(outcomes[outcome], rfm),
                                                                  rel=1e-9)


def test_current_tables_are_left_alone(planted):
    _, database, _, _ = planted
    assert str(query(database, "select max(as_of_date) from customer_rfm")[0][0]) == AS_OF.isoformat()
    assert query(database, "select count(*) from customer_features")[0][0] == 920


def test_too_little_history_writes_no_rows_and_says_why(planted, tmp_path):
    root, planted_database, _, _ = planted
    database = tmp_path / "segments.duckdb"
    shutil.copy(planted_database, database)
    # first orders 2024-03-01: a snapshot on 2024-05-15 has its cutoff (2024-02-15) before any purchase
    result = materialize(root / "shop", database, TARGETS, SEGMENTS_AS_OF="2024-05-15")
    assert result.success
    assert query(database, "select count(*) from segment_validity where snapshot_date = '2024-05-15'") == [(0,)]
    assert query(database, "select count(*) from segment_validity") == [(4,)]  # the June rows stay
    [event] = [e for e in result.get_asset_materialization_events()
               if e.asset_key.path == ["segment_validity"]]
    reason = event.materialization.metadata["skipped"].value
    assert "2024-02-15" in reason and "less history than the horizon" in reason


def test_the_holdout_is_segmented_with_the_runs_settings(planted, tmp_path):
    root, planted_database, _, _ = planted
    database = tmp_path / "segments.duckdb"
    shutil.copy(planted_database, database)
    settings = {"algorithms": ["ward"], "k_min": 2, "k_max": 2}
    result = materialize(root / "shop", database, [*TARGETS, "customer_segments"],
                         run_config={"ops": {"segmentation": {"config": settings}}}, SEGMENTS_AS_OF=AS_OF.isoformat())
    assert result.success
    table = frame(database, "select * from segment_validity where segmentation = 'behavioural'")
    assert len(table) == 2 and set(table["algorithm"]) == {"ward"} and set(table["k"]) == {2}
    assert (table["n_segments"] == 2).all()
    assert query(database, "select count(distinct segment_id) from customer_segments") == [(2,)]


# -- through the graph: the demo shop ---------------------------------------------------------------------------

def test_demo_validity_table_shape(demo_warehouse):
    table = frame(demo_warehouse, "select * from segment_validity")
    assert sorted(zip(table["segmentation"], table["outcome"])) == [
        ("behavioural", "purchases_next_90d"), ("behavioural", "spend_next_90d"),
        ("rfm", "purchases_next_90d"), ("rfm", "spend_next_90d")]
    as_of = query(demo_warehouse, "select as_of_date from staging.stg_shop__as_of")[0][0]
    assert set(table["snapshot_date"].astype(str)) == set(table["holdout_end"].astype(str)) == {as_of.isoformat()}
    assert set(table["holdout_start"].astype(str)) == {(as_of - dt.timedelta(days=90)).isoformat()}
    assert table["eta_squared"].between(0, 1).all()
    known = query(demo_warehouse, "select count(*) from holdout_main.customer_features")[0][0]
    assert 0 < known < query(demo_warehouse, "select count(*) from customer_features")[0][0]
    assert (table["n_customers"] == known).all()
    behavioural = table[table["segmentation"] == "behavioural"]
    assert ((behavioural["n_segments"] == behavioural["k"]) | (behavioural["n_segments"] == behavioural["k"] + 1)).all()
    rfm_segments = query(demo_warehouse, "select count(distinct rfm_segment) from holdout_main.customer_rfm")[0][0]
    assert (table.loc[table["segmentation"] == "rfm", "n_segments"] == rfm_segments).all()

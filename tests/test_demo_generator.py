"""Tests for the demo shop: the `demo` configuration of the synthetic shop family (python_models/datasets/).

The bad-row recount below is written independently of the generator: it classifies every raw row with SQL
(regular expressions and strptime, in the pipeline's priority order) and compares with ground_truth.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

from python_models.datasets import generate_shop
from python_models.datasets.shops import PERSONAS, REASONS

N = 3000
SEED = 7
END = pd.Timestamp("2025-12-31 23:59:59")
# sha256 prefixes of the text files python_models/demo.py wrote for 1,200 customers, seed 11 (parquet files
# carry the writing library's version, so they are left out)
ORIGINAL_DEMO_1200_11 = {
    "transactions.csv": "efbda8708b2272af",
    "events.csv": "1c2bfc5fcccf8a5b",
    "products.csv": "6694ccb1a900969f",
    "ground_truth/personas.csv": "7af1662284f65b94",
    "ground_truth/bad_rows.json": "0562f2b442c8b9f0",
}
TX_COLUMNS = ["order_id", "customer_id", "order_ts", "product_id", "category", "quantity", "unit_price", "channel"]


def _hashes(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*")) if p.is_file()
    }


def _reader(folder: Path) -> str:
    if (folder / "transactions.csv").exists():
        return f"read_csv('{folder}/transactions.csv', all_varchar = true, header = true)"
    return f"read_parquet('{folder}/transactions.parquet')"


def _classify(folder: Path) -> pd.DataFrame:
    """Every raw transaction row with its rejection reason (NULL when accepted), typed values and file position."""
    sql = f"""
    with raw as (
        select *, row_number() over () as rn from {_reader(folder)}
    ), typed as (
        select *,
            nullif(trim(customer_id), '') as cid, nullif(trim(order_id), '') as oid,
            nullif(trim(order_ts), '') as ts_text, nullif(trim(quantity), '') as q_text,
            nullif(trim(unit_price), '') as p_text,
            try_strptime(nullif(trim(order_ts), ''), '%Y-%m-%d %H:%M:%S') as ts
        from raw
    ), first_pass as (
        select *, case
            when cid is null then 'missing_customer_id'
            when oid is null then 'missing_order_id'
            when ts_text is null then 'missing_order_ts'
            when ts is null then 'unparseable_order_ts'
            when ts > timestamp '2025-12-31 23:59:59' then 'future_order_ts'
            when q_text is null then 'missing_quantity'
            when not regexp_full_match(q_text, '-?[0-9]+') then 'unparseable_quantity'
            when cast(q_text as bigint) = 0 then 'zero_quantity'
            when p_text is null then 'missing_unit_price'
            when not regexp_full_match(p_text, '-?[0-9]+(\\.[0-9]+)?') then 'unparseable_unit_price'
            when cast(p_text as double) < 0 then 'negative_unit_price'
        end as reason
        from typed
    ), dup as (
        select *, case when reason is null and row_number() over (
            partition by reason is null, {", ".join(TX_COLUMNS)} order by rn) > 1 then 'duplicate_line'
            else reason end as final_reason
        from first_pass
    )
    select rn, {", ".join(TX_COLUMNS)}, final_reason as reason, ts,
        try_cast(q_text as bigint) as q, try_cast(p_text as double) as price
    from dup order by rn
    """
    return duckdb.sql(sql).df()


@pytest.fixture(scope="module", params=["csv", "parquet"])
def shop(request, tmp_path_factory):
    folder = tmp_path_factory.mktemp(f"shop_{request.param}")
    truth = generate_shop("demo", folder, fmt=request.param, n_customers=N, seed=SEED)
    rows = _classify(folder)
    personas = pd.read_csv(folder / "ground_truth" / "personas.csv")
    return dict(folder=folder, truth=truth, rows=rows, personas=personas, fmt=request.param)


def _customer_features(folder: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per-customer behaviour from the accepted lines, joined to the planted persona; and the accepted lines."""
    rows = _classify(folder)
    ok = rows[rows.reason.isna()].copy()
    ok["value"] = ok.q * ok.price
    buys = ok[ok.q > 0]
    orders = buys.groupby(["customer_id", "order_id"]).agg(ts=("ts", "min"), basket=("value", "sum")).reset_index()
    per = orders.groupby("customer_id").agg(
        n_orders=("order_id", "nunique"), basket=("basket", "mean"), first=("ts", "min"), last=("ts", "max"))
    per["last_any"] = ok.groupby("customer_id").ts.max()
    per["recency"] = (END - per["last"]).dt.total_seconds() / 86400
    per["tenure"] = (END - per["first"]).dt.total_seconds() / 86400
    per["return_rate"] = ok.assign(r=ok.q < 0).groupby("customer_id").r.mean()
    per["qty"] = buys.groupby("customer_id").q.mean()
    cat = pd.crosstab(ok.customer_id, ok.category, normalize="index").add_prefix("cat_")
    chan = pd.crosstab(ok.customer_id, ok.channel, normalize="index").add_prefix("chan_")
    per = per.join(cat).join(chan).fillna(0.0)
    personas = pd.read_csv(folder / "ground_truth" / "personas.csv").set_index("customer_id")
    return per.join(personas, how="outer"), ok


@pytest.fixture(scope="module")
def customer_features(tmp_path_factory):
    folder = tmp_path_factory.mktemp("features")
    generate_shop("demo", folder, n_customers=N, seed=SEED)
    return _customer_features(folder)


# ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_deterministic_and_seed_sensitive(tmp_path, fmt):
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    ta = generate_shop("demo", a, fmt=fmt, n_customers=1200, seed=11)
    tb = generate_shop("demo", b, fmt=fmt, n_customers=1200, seed=11)
    generate_shop("demo", c, fmt=fmt, n_customers=1200, seed=12)
    assert ta == tb
    ha, hb, hc = _hashes(a), _hashes(b), _hashes(c)
    assert ha == hb
    tx = f"transactions.{fmt}"
    assert tx in ha and "customers.parquet" in ha and "events.csv" in ha
    assert ha[tx] != hc[tx]
    assert ha["ground_truth/personas.csv"] != hc["ground_truth/personas.csv"]
    if fmt == "csv":  # the demo is byte for byte the shop python_models/demo.py wrote before the shop family
        assert {k: v[:16] for k, v in ha.items() if k in ORIGINAL_DEMO_1200_11} == ORIGINAL_DEMO_1200_11


def test_files_and_columns(shop):
    folder = shop["folder"]
    assert (folder / f"transactions.{shop['fmt']}").exists()
    other = "parquet" if shop["fmt"] == "csv" else "csv"
    assert not (folder / f"transactions.{other}").exists()
    assert list(shop["rows"].columns[1:9]) == TX_COLUMNS
    if shop["fmt"] == "parquet":
        types = duckdb.sql(f"describe select * from {_reader(folder)}").df()
        assert set(types.column_type) == {"VARCHAR"}
    else:
        header = (folder / "transactions.csv").read_text().splitlines()[0]
        assert header == ",".join(TX_COLUMNS)
    cust = pd.read_parquet(folder / "customers.parquet")
    assert list(cust.columns) == ["customer_id", "signup_date", "birth_year", "gender", "region"]
    assert len(cust) == N and cust.customer_id.is_unique
    assert cust.customer_id.str.fullmatch(r"C\d{7}").all()
    assert cust.birth_year.between(1950, 2005).all()
    assert set(cust.region) <= {"North", "South", "East", "West", "Central"}
    products = pd.read_csv(folder / "products.csv", dtype=str)
    assert list(products.columns) == ["product_id", "category", "list_price"]
    assert 200 <= len(products) <= 500 and products.product_id.is_unique
    assert products.product_id.str.fullmatch(r"P\d{4}").all()
    assert products.category.nunique() == 8
    assert (products.list_price.astype(float) > 0).all()
    events = pd.read_csv(folder / "events.csv", dtype=str, keep_default_na=False)
    assert list(events.columns) == ["customer_id", "event_ts", "event_type", "product_id"]
    assert set(events.event_type) == {"view", "add_to_cart", "search"}
    assert set(events.customer_id) <= set(cust.customer_id)
    ets = pd.to_datetime(events.event_ts, format="%Y-%m-%d %H:%M:%S")
    assert ets.min() >= pd.Timestamp("2024-01-01") and ets.max() <= END
    assert len(events) >= 2 * N


def test_truth_matches_independent_recount(shop):
    rows, truth = shop["rows"], shop["truth"]
    on_disk = json.loads((shop["folder"] / "ground_truth" / "bad_rows.json").read_text())
    assert on_disk == truth
    assert set(truth) == {"input_rows", "rejected_by_reason", "accepted_rows", "returns"}
    assert list(truth["rejected_by_reason"]) == list(REASONS)
    recount = rows.reason.value_counts().to_dict()
    assert truth["input_rows"] == len(rows)
    assert truth["rejected_by_reason"] == {r: recount.get(r, 0) for r in REASONS}
    assert set(recount) == set(REASONS)  # nothing rejected for a reason the generator did not plant
    assert truth["accepted_rows"] == int(rows.reason.isna().sum())
    assert truth["returns"] == int(((rows.q < 0) & rows.reason.isna()).sum())
    assert truth["returns"] > 0
    assert all(v == max(3, N // 500) for v in truth["rejected_by_reason"].values())


def test_bad_rows_realistic_and_interleaved(shop):
    rows = shop["rows"]
    bad = rows[rows.reason.notna()]
    assert bad.rn.min() < len(rows) * 0.25 and bad.rn.max() > len(rows) * 0.75
    customers = set(pd.read_parquet(shop["folder"] / "customers.parquet").customer_id)
    named = bad.customer_id.dropna()
    named = named[named.str.strip() != ""]
    assert set(named) <= customers
    # both spellings of "missing" occur: null and empty string (the CSV reader maps both to NULL)
    if shop["fmt"] == "parquet":
        missing = bad[bad.reason == "missing_customer_id"].customer_id
        assert missing.isna().any() and (missing == "").any()
    # values the pipeline must accept
    ok = rows[rows.reason.isna()]
    assert (ok.q < 0).any() and (ok.price == 0).any()
    assert ok.order_ts.str.fullmatch(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}").all()
    # each duplicate is an exact copy of an accepted line that comes earlier in the file
    dups = rows[rows.reason == "duplicate_line"]
    first = ok.groupby(TX_COLUMNS).rn.min().rename("first_rn").reset_index()
    matched = dups.merge(first, on=TX_COLUMNS, how="left")
    assert len(matched) == len(dups) and (matched.first_rn < matched.rn).all()


def test_window_and_as_of(shop):
    ok = shop["rows"][shop["rows"].reason.isna()]
    assert ok.ts.min() >= pd.Timestamp("2024-01-01")
    assert ok.ts.max() <= END
    assert ok.ts.max() >= pd.Timestamp("2025-12-31")


def test_every_customer_has_a_valid_line_and_shares(shop):
    ok = shop["rows"][shop["rows"].reason.isna()]
    personas = shop["personas"]
    assert len(personas) == N and personas.customer_id.is_unique
    assert set(personas.customer_id) == set(ok.customer_id)
    shares = personas.persona.value_counts(normalize=True)
    assert set(shares.index) == set(PERSONAS)
    for name, spec in PERSONAS.items():
        assert abs(shares[name] - spec["share"]) < 0.005


def test_signup_before_first_order(shop):
    ok = shop["rows"][shop["rows"].reason.isna()]
    first = ok.groupby("customer_id").ts.min().dt.normalize()
    cust = pd.read_parquet(shop["folder"] / "customers.parquet").set_index("customer_id")
    signup = pd.to_datetime(cust.signup_date)
    assert (signup <= first.reindex(signup.index)).all()


def test_personas_behave_as_planted(customer_features):
    per, _ = customer_features
    m = per.groupby("persona").mean(numeric_only=True)
    orders, basket = m.n_orders, m.basket
    assert orders["frequent_small_basket"] > orders["loyal_high_spenders"] > orders["lapsed"]
    assert orders["lapsed"] > orders["newcomers"] and orders["lapsed"] > orders["big_ticket_occasional"]
    assert basket.idxmax() == "big_ticket_occasional" and basket["big_ticket_occasional"] > 500
    assert basket.idxmin() == "frequent_small_basket" and basket["frequent_small_basket"] < 30
    assert 150 <= basket["loyal_high_spenders"] <= 300
    assert m.qty.idxmax() == "bargain_hunters"
    assert m.return_rate.idxmax() == "bargain_hunters"
    newcomers = per[per.persona == "newcomers"]
    assert (newcomers.tenure < 90).all() and newcomers.n_orders.between(1, 3).all()
    lapsed = per[per.persona == "lapsed"]
    assert ((END - lapsed.last_any).dt.total_seconds() / 86400 > 250).all()
    assert lapsed.n_orders.between(2, 5).all()
    assert per[per.persona == "big_ticket_occasional"].n_orders.between(1, 3).all()
    assert m.recency["loyal_high_spenders"] < 30 and m.recency["frequent_small_basket"] < 30
    dominant = {
        "loyal_high_spenders": ("Electronics", "Home", "web"),
        "bargain_hunters": ("Fashion", "Beauty", "app"),
        "lapsed": ("Home", "Books", "web"),
        "big_ticket_occasional": ("Electronics", "Sports", "store"),
        "frequent_small_basket": ("Grocery", "Beauty", "app"),
    }
    for persona, (c1, c2, channel) in dominant.items():
        assert 0.6 <= m.loc[persona, f"cat_{c1}"] + m.loc[persona, f"cat_{c2}"] <= 0.85, persona
        assert m.loc[persona, f"chan_{channel}"] > 0.6, persona
    assert m.loc["newcomers", "chan_app"] > 0.5


def test_personas_separable_after_log_and_standardising(customer_features):
    per, ok = customer_features
    lines = ok.groupby("customer_id").size()
    assert 8 <= lines.sum() / len(per) <= 12  # average lines per customer
    logged = pd.DataFrame({
        c: np.log1p(per[c].clip(lower=0)) for c in ["n_orders", "basket", "recency", "tenure", "qty"]
    }, index=per.index)
    shares = per.filter(regex="^(cat_|chan_)").join(per[["return_rate"]])
    x = logged.join(shares).to_numpy(float)
    x = (x - x.mean(0)) / x.std(0)
    labels = per.persona.to_numpy()
    names = sorted(set(labels))
    centroids = np.stack([x[labels == n].mean(0) for n in names])
    predicted = np.array(names)[((x[:, None, :] - centroids[None]) ** 2).sum(-1).argmin(1)]
    assert (predicted == labels).mean() > 0.95


def test_cli(tmp_path):
    out = tmp_path / "cli"
    out.mkdir()
    (out / "transactions.csv").write_text("stale\n")
    root = Path(__file__).resolve().parents[1]
    result = subprocess.run(
        [sys.executable, "-m", "python_models.datasets", "shop", "--config", "demo", "--customers", "400",
         "--seed", "3", "--out", str(out), "--format", "parquet", "--no-events"],
        cwd=root, capture_output=True, text=True, check=True,
    )
    truth = json.loads(result.stdout.strip().splitlines()[-1])
    assert truth == json.loads((out / "ground_truth" / "bad_rows.json").read_text())
    assert (out / "transactions.parquet").exists() and not (out / "transactions.csv").exists()
    assert not (out / "events.csv").exists()
    assert truth == generate_shop("demo", tmp_path / "direct", fmt="parquet", n_customers=400, seed=3, events=False)
    assert (out / "transactions.parquet").read_bytes() == (tmp_path / "direct" / "transactions.parquet").read_bytes()

"""Tests for the named family of synthetic shops (python_models/datasets/families.py), each at a small size."""

from __future__ import annotations

import hashlib
import json
import re
from itertools import combinations
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

from python_models.datasets import SHOP_CONFIGS, ShopConfig, build_world, generate_shop, shop_config
from python_models.datasets.__main__ import main
from python_models.datasets.personas import ASPECTS, differences, draw_shares

SMALL = 1500
END = pd.Timestamp("2025-12-31 23:59:59")


def _hashes(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _lines(folder: Path) -> pd.DataFrame:
    """Accepted purchase and return lines (rows whose quantity, price and timestamp parse)."""
    return duckdb.sql(f"""
        select * exclude (quantity, unit_price, order_ts), try_cast(quantity as bigint) as q,
            try_cast(unit_price as double) as price, try_strptime(order_ts, '%Y-%m-%d %H:%M:%S') as ts
        from read_csv('{folder}/transactions.csv', all_varchar = true, header = true)
        where try_cast(quantity as bigint) <> 0 and try_cast(unit_price as double) >= 0
            and try_strptime(order_ts, '%Y-%m-%d %H:%M:%S') <= timestamp '2025-12-31 23:59:59'
            and nullif(trim(customer_id), '') is not null and nullif(trim(order_id), '') is not null
    """).df()


@pytest.fixture(scope="module")
def shops(tmp_path_factory):
    """Every named configuration at SMALL customers: name -> (config, folder, truth)."""
    root = tmp_path_factory.mktemp("family")
    out = {}
    for name in SHOP_CONFIGS:
        config = shop_config(name, n_customers=SMALL)
        out[name] = (config, root / name, generate_shop(config, root / name))
    return out


def _truth(folder: Path):
    config = json.loads((folder / "ground_truth" / "config.json").read_text())
    personas = pd.read_csv(folder / "ground_truth" / "personas.csv")
    traits = pd.read_csv(folder / "ground_truth" / "traits.csv")
    return config, personas.merge(traits, on="customer_id", validate="one_to_one")


def _spend(folder: Path) -> pd.Series:
    lines = _lines(folder)
    buys = lines[lines.q > 0]
    return (buys.q * buys.price).groupby(buys.customer_id).sum()


def _top_share(spend: pd.Series, top: float = 0.01) -> float:
    s = np.sort(spend.to_numpy())[::-1]
    return s[: max(1, int(len(s) * top))].sum() / s.sum()


# ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(SHOP_CONFIGS))
def test_every_named_config_generates_as_configured(shops, name):
    config, folder, truth = shops[name]
    meta, gt = _truth(folder)
    assert meta["config"]["name"] == name and meta["config"]["n_customers"] == SMALL
    assert SHOP_CONFIGS[name].description and "\n" not in SHOP_CONFIGS[name].description

    # personas: count, names in words, shares as configured (exact counts, largest remainder)
    assert len(meta["personas"]) == config.n_personas == gt.persona.nunique()
    assert len(gt) == SMALL and gt.customer_id.is_unique
    counts = gt.persona.value_counts()
    for p in meta["personas"]:
        assert re.fullmatch(r"[A-Za-z][A-Za-z _&-]*[A-Za-z]", p["name"]), p["name"]
        assert counts[p["name"]] == p["customers"]
        assert abs(p["customers"] / SMALL - p["share"]) <= 1 / SMALL
    shares = np.array([p["share"] for p in meta["personas"]])
    assert shares.sum() == pytest.approx(1.0)
    if config.shares is None and config.personas == "procedural":
        assert shares.min() >= 0.02 - 1e-9 and shares.max() <= 0.40 + 1e-9
    elif config.shares is not None:
        assert shares == pytest.approx(np.array(config.shares) / sum(config.shares))

    # files: category column, customers file, events, bad rows as configured
    header = (folder / "transactions.csv").read_text().split("\n", 1)[0].split(",")
    products = pd.read_csv(folder / "products.csv", dtype=str)
    if config.n_categories == 0:
        assert "category" not in header and list(products.columns) == ["product_id", "list_price"]
    else:
        assert "category" in header and list(products.columns) == ["product_id", "category", "list_price"]
        assert products.category.nunique() == config.n_categories
        assert len(meta["groups"]) == config.n_categories
    assert (folder / "customers.parquet").exists() == config.demographics
    assert (folder / "events.csv").exists() == (config.events is not False)
    assert (sum(truth["rejected_by_reason"].values()) > 0) == config.bad_rows
    assert truth == json.loads((folder / "ground_truth" / "bad_rows.json").read_text())

    # whales and label noise: exact shares per persona (rounded), labels kept
    noisy = gt.behaviour != gt.persona
    assert abs(noisy.mean() - config.label_noise) <= config.n_personas / (2 * SMALL)
    assert abs(gt.whale.mean() - config.whale_share) <= config.n_personas / (2 * SMALL)

    # every customer has an accepted line, inside the window, the latest on the last day
    lines = _lines(folder)
    assert set(lines.customer_id) == set(gt.customer_id)
    assert lines.ts.min() >= pd.Timestamp("2024-01-01") and lines.ts.max().normalize() == END.normalize()


@pytest.mark.parametrize("name", [n for n, c in SHOP_CONFIGS.items() if c.personas == "procedural"])
def test_procedural_personas_distinguishable_but_not_in_everything(name):
    world = build_world(SHOP_CONFIGS[name])
    traits = list(world.traits.values())
    assert len(set(world.personas)) == len(traits) == SHOP_CONFIGS[name].n_personas
    diffs = [len(differences(_ids(a, world), _ids(b, world))) for a, b in combinations(traits, 2)]
    assert min(diffs) >= 2  # any two personas differ clearly in two aspects at least
    assert min(diffs) < len(ASPECTS)  # and some pair is alike in two at least
    for t in traits:
        assert 2 <= len(t["taste"]) <= 4


def _ids(t: dict, world) -> dict:
    return {**t, "taste": [world.groups.index(g) for g in t["taste"]]}


@pytest.mark.parametrize("n", range(3, 10))
def test_drawn_shares_lie_between_2_and_40_percent(n):
    for seed in range(20):
        s = draw_shares(np.random.default_rng(seed), n, 0.02, 0.40)
        assert len(s) == n and s.sum() == pytest.approx(1.0, abs=1e-12)
        assert s.min() >= 0.02 - 1e-9 and s.max() <= 0.40 + 1e-9


def test_personas_behave_as_their_traits(shops):
    for name in ("nine_personas", "holdout"):
        _, folder, _ = shops[name]
        meta, gt = _truth(folder)
        lines = _lines(folder).merge(gt, on="customer_id")
        lines = lines[lines.persona == lines.behaviour]  # label noise aside
        per = lines[lines.q > 0].groupby("customer_id").agg(
            persona=("persona", "first"), orders=("order_id", "nunique"), first=("ts", "min"), last=("ts", "max"))
        channel = lines.groupby("persona").channel.value_counts(normalize=True)
        returns = lines.assign(r=lines.q < 0).groupby("persona").r.mean()
        orders = per.groupby("persona").orders.mean()
        for p in meta["personas"]:
            t, mine = p["traits"], per[per.persona == p["name"]]
            recency = (END - mine["last"]).dt.days
            if t["lifecycle"] == "lapsed":
                assert (recency >= 299).all() and mine.orders.between(2, 5).all()
            elif t["lifecycle"] == "cooling":
                assert (recency >= 119).all()
            elif t["lifecycle"] == "new":
                assert ((END - mine["first"]).dt.days < 100).all() and mine.orders.between(1, 3).all()
            elif t["lifecycle"] in ("frequent", "loyal"):
                assert recency.median() < 45 and orders[p["name"]] > 4
            if t["channel"] != "mixed":
                assert channel[p["name"]][t["channel"]] > 0.55
            assert returns[p["name"]] > 0.07 if t["returns"] == "high" else returns[p["name"]] < 0.06


def test_taste_shows_in_categories_and_beyond_the_top_eight(shops):
    _, folder, _ = shops["many_categories_60"]
    meta, gt = _truth(folder)
    lines = _lines(folder).merge(gt, on="customer_id")
    top8 = set(lines.category.value_counts().index[:8])
    favourites = {p["name"]: p["traits"]["taste"] for p in meta["personas"]}
    assert any(set(f) - top8 for f in favourites.values())
    for name, fav in favourites.items():
        mine = lines[(lines.persona == name) & (lines.behaviour == name)]
        assert mine.category.isin(fav).mean() > 0.5, name


def test_taste_lives_in_products_without_a_category_column(shops):
    """No category column: each persona's lines still concentrate on products of its own."""
    _, folder, _ = shops["no_category"]
    _, gt = _truth(folder)
    lines = _lines(folder).merge(gt, on="customer_id")
    overall = lines.product_id.value_counts(normalize=True)
    by_persona = pd.crosstab(lines.persona, lines.product_id, normalize="index")
    distance = 0.5 * (by_persona - overall.reindex(by_persona.columns)).abs().sum(axis=1)
    assert (distance > 0.3).all(), distance


def test_whales_make_a_heavy_tail(tmp_path):
    whales = shop_config("whales", n_customers=2000)
    generate_shop(whales, tmp_path / "whales")
    generate_shop(whales.replace(whale_share=0.0), tmp_path / "none")
    with_whales, without = _spend(tmp_path / "whales"), _spend(tmp_path / "none")
    assert _top_share(with_whales) > 0.15 and _top_share(with_whales) > 2 * _top_share(without)
    _, gt = _truth(tmp_path / "whales")
    whale_ids = gt.customer_id[gt.whale == 1]
    assert with_whales[whale_ids].median() > 4 * with_whales.drop(whale_ids).median()
    assert gt.groupby("persona").whale.sum().min() >= 1  # inside every persona, labels unchanged
    assert (gt.persona == gt.behaviour).all()


def test_label_noise_share_as_configured(shops):
    config, folder, _ = shops["label_noise"]
    _, gt = _truth(folder)
    noisy = gt[gt.behaviour != gt.persona]
    assert len(noisy) == pytest.approx(config.label_noise * SMALL, abs=config.n_personas / 2)
    assert noisy.persona.nunique() == config.n_personas  # taken from every persona
    assert noisy.behaviour.isin(gt.persona).all()


def test_same_seed_identical_bytes_different_seed_different_files(tmp_path):
    config = shop_config("holdout", n_customers=800)
    generate_shop(config, tmp_path / "a")
    generate_shop(config, tmp_path / "b")
    generate_shop(config, tmp_path / "c", seed=config.seed + 1)
    a, b, c = _hashes(tmp_path / "a"), _hashes(tmp_path / "b"), _hashes(tmp_path / "c")
    assert a == b
    assert set(a) == set(c) and all(a[k] != c[k] for k in a)


def test_world_does_not_depend_on_size_or_noise():
    big = build_world(SHOP_CONFIGS["holdout"])
    small = build_world(shop_config("holdout", n_customers=500, whale_share=0, label_noise=0, events=False))
    assert list(big.personas) == list(small.personas) and big.groups == small.groups


def test_config_validation_and_lookup():
    with pytest.raises(KeyError, match="no shop configuration"):
        shop_config("nope")
    with pytest.raises(TypeError):
        shop_config("demo", n_custmers=10)
    with pytest.raises(ValueError, match="one positive share per persona"):
        ShopConfig("x", n_personas=3, shares=(0.5, 0.5))
    with pytest.raises(ValueError, match="demo personas"):
        ShopConfig("x", personas="demo", n_personas=5)
    with pytest.raises(ValueError, match="n_categories"):
        ShopConfig("x", n_categories=1)
    assert all(SHOP_CONFIGS[n].name == n for n in SHOP_CONFIGS)
    assert "never tune" in SHOP_CONFIGS["holdout"].description.lower()


def test_cli_list_shop_and_cdnow(tmp_path, capsys):
    assert main(["list"]) == 0
    listed = capsys.readouterr().out
    assert all(name in listed for name in SHOP_CONFIGS)
    assert main(["shop", "--config", "no_category", "--customers", "300", "--seed", "5", "--out",
                 str(tmp_path / "cli"), "--no-demographics"]) == 0
    truth = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert truth == generate_shop("no_category", tmp_path / "direct", n_customers=300, seed=5, demographics=False)
    assert _hashes(tmp_path / "cli") == _hashes(tmp_path / "direct")
    assert main(["cdnow", "--out", str(tmp_path / "cdnow")]) == 0
    assert (tmp_path / "cdnow" / "transactions.csv").exists()


def test_no_persona_customer_buys_in_a_burst(shops):
    # many orders on one day are a planted anomaly (order_burst: 25-60), never a persona's cadence (at most 5 here,
    # a busy regional persona in a short window): a region where an active persona lapses once put every order of
    # its customers, 8 to 60, on their first second (regions_holdout's North)
    for name, (_, folder, _) in shops.items():
        orders = pd.read_csv(folder / "transactions.csv", usecols=["customer_id", "order_id", "order_ts"],
                             dtype=str).drop_duplicates("order_id")
        per_day = orders.groupby([orders["customer_id"], orders["order_ts"].str[:10]]).size()
        assert per_day.max() < 8, (name, per_day.idxmax(), per_day.max())

"""Recommendations at scale (time and peak memory per recommender) and their quality on a shop (the real graph).

    python bench/bench_recommend.py [--customers 1000000] [--products 20000]
    python bench/bench_recommend.py quality --data data/online_retail [--holdout-start 2011-09-08]
    python bench/bench_recommend.py quality --shop holdout [--customers 15000]

Scale: a seeded synthetic purchase history (personas with their own assortments, personal favourites and
best sellers; about 12 purchase-day rows per customer) is written once under bench/data/, then each step runs in
a fresh process: loading it into windows (the floor), each recommender fitted on all of it and every customer's
top 10 scored in batches, and the whole run the asset makes (the temporal holdout, measured on at most 20,000
customers, then the blended lists of every customer). The machine is shared: compare the ratios, and the CPU
seconds (user + system of the step's process), which other jobs do not inflate.

Quality: materializes the recommendations and everything upstream of them (dbt, segments) into a warehouse under
bench/data/ and prints the NDCG@10 and Recall@10 table of recommendation_metrics, with the blend's targets.
"""

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH.parent))

from python_models.recommend import (EASE, ImplicitALS, ItemKNN, Popularity, PurchaseHistory,  # noqa: E402
                                     RecommendSettings, RepeatPurchases, recommend, top_k)
from python_models.recommend.candidates import DENSE_SOURCES, scored  # noqa: E402
from python_models.recommend.item_knn import top_per_row  # noqa: E402

DAYS = 730
HOLDOUT_DAYS = 90
RECOMMENDERS = {"popularity": Popularity, "repeat": RepeatPurchases, "item_knn": ItemKNN, "ease": EASE,
                "als": ImplicitALS}


def synthetic_history(customers: int, products: int, seed: int = 0) -> dict[str, np.ndarray]:
    """Purchase-day rows: 100 personas with their own assortments of products; each line is one of the
    customer's 5 favourites (30%), from the persona's assortment (50%, Zipf-like) or a shop best seller (20%)."""
    rng = np.random.default_rng(seed)
    personas = 100
    assortment = products // personas
    persona = rng.integers(0, personas, customers)
    favourites = persona[:, None] * assortment + rng.integers(0, assortment, (customers, 5))
    days = 1 + rng.poisson(4, customers)
    owner = np.repeat(np.arange(customers), days)
    day = rng.integers(0, DAYS, len(owner))
    lines = 1 + rng.binomial(4, 0.35, len(owner))
    owner, day = np.repeat(owner, lines), np.repeat(day, lines)
    kind = rng.random(len(owner))
    zipf = lambda n: np.minimum(rng.zipf(1.4, len(owner)) - 1, n - 1)  # noqa: E731
    product = np.where(kind < 0.3, favourites[owner, rng.integers(0, 5, len(owner))],
                       np.where(kind < 0.8, persona[owner] * assortment + zipf(assortment),
                                rng.permutation(products)[zipf(products)]))
    return {"customer": owner.astype(np.int32), "product": product.astype(np.int32), "day": day.astype(np.int32)}


def data_file(customers: int, products: int) -> Path:
    path = BENCH / "data" / f"recommend_{customers}_{products}.npz"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez(path, **synthetic_history(customers, products))
    return path


def load(path: str) -> PurchaseHistory:
    rows = np.load(path)
    customers = int(rows["customer"].max()) + 1
    products = int(rows["product"].max()) + 1
    return PurchaseHistory(np.arange(customers).astype(str), np.char.zfill(np.arange(products).astype(str), 6),
                           rows["customer"], rows["product"], rows["day"])


def step(name: str, path: str) -> str:
    """Run one step in this process; return a line about it."""
    settings = RecommendSettings()
    history = load(path)
    if name == "load":
        window = history.window(DAYS)
        return f"{history.shape[0]:,} customers, {history.shape[1]:,} products, {window.days.nnz:,} pairs"
    if name == "recommend":
        run = recommend(history, DAYS, DAYS - HOLDOUT_DAYS, settings, log=lambda m: print(f"# {m}", file=sys.stderr))
        ndcg = run.holdout.metrics.query("metric == 'ndcg' and k == 10 and item_scope == 'all'")
        return (f"{run.recommendations.num_rows:,} rows; holdout NDCG@10 "
                + ", ".join(f"{r.recommender} {r.value:.3f}" for r in ndcg.itertuples()))
    window = history.window(DAYS)
    model = RECOMMENDERS[name]().fit(window)
    size = settings.batch_size(window.shape[1])
    for start in range(0, window.shape[0], size):
        rows = np.arange(start, min(start + size, window.shape[0]))
        if name in DENSE_SOURCES:  # the way the blend takes each model's candidates
            scored(model, window, rows, settings.k).top(settings.k)
        elif name == "repeat":
            own = model.own_scores(window)[rows]
            top_per_row(np.repeat(np.arange(len(rows)), np.diff(own.indptr)), own.indices, own.data, settings.k)
        else:  # popularity: one list for everyone
            top_k(model.share_[None, :], settings.k)
    return f"fitted and top {settings.k} for {window.shape[0]:,} customers"


def run_step(name: str, path: Path) -> dict:
    out = subprocess.run([sys.executable, __file__, "step", name, str(path)], check=True, capture_output=True,
                         text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def scale(customers: int, products: int, steps: list[str]) -> None:
    path = data_file(customers, products)
    print(f"{'customers':>10} {'products':>9} {'step':<11} {'wall s':>8} {'CPU s':>8} {'peak MiB':>9} "
          f"{'x floor':>8}  note")
    floor = None
    for name in steps:
        result = run_step(name, path)
        floor = floor or result["wall_s"]
        print(f"{customers:>10,} {products:>9,} {name:<11} {result['wall_s']:>8.1f} {result['cpu_s']:>8.1f} "
              f"{result['peak_mib']:>9,} {result['wall_s'] / floor:>8.1f}  {result['note']}", flush=True)


def quality(data: Path | None, shop: str | None, customers: int, holdout_start: str | None) -> None:
    from python_models.datasets import generate_shop
    from tests.pipeline import frame, materialize

    if data is None:
        data = BENCH / "data" / f"shop_{shop}_{customers}"
        if not (data / "transactions.csv").exists():
            generate_shop(shop, data, n_customers=customers, seed=0)
    database = BENCH / "data" / f"recommend_quality_{data.name}.duckdb"
    database.unlink(missing_ok=True)
    config = {"holdout_start": holdout_start} if holdout_start else {}
    started = time.perf_counter()
    # rejected_transactions too: the dbt test that reconciles the input lines needs it
    result = materialize(data, database,
                         ["customer_recommendations", "recommendation_metrics", "rejected_transactions"],
                         run_config={"ops": {"recommendations": {"config": config}}})
    materialized = result.asset_materializations_for_node("recommendations")[0].metadata
    metrics = frame(database, "select * from recommendation_metrics where k = 10 and metric in ('ndcg', 'recall')")
    table = metrics.pivot_table(index="recommender", columns=["metric", "item_scope"], values="value", sort=False)
    print(f"{data}: test window {metrics['test_start'].iloc[0]} .. {metrics['test_end'].iloc[0]}, "
          f"{metrics['customers'].max():,} customers measured; the asset took {materialized['seconds'].value:.1f} s "
          f"({materialized['cpu_seconds'].value:.1f} CPU s) "
          f"(whole run {time.perf_counter() - started:.0f} s)")
    print(table.to_markdown(floatfmt=".3f"))
    targets = metrics.dropna(subset=["target"])
    for row in targets.itertuples():
        print(f"blend NDCG@10 {row.item_scope}: {row.value:.3f}, target {row.target} = {row.target_value:.3f}: "
              f"{'met' if row.target_met else 'missed'}")


def main() -> None:
    if sys.argv[1:2] == ["step"]:
        name, path = sys.argv[2:4]
        started = time.perf_counter()
        note = step(name, path)
        wall = time.perf_counter() - started
        usage = resource.getrusage(resource.RUSAGE_SELF)
        print(json.dumps({"step": name, "wall_s": round(wall, 1), "cpu_s": round(usage.ru_utime + usage.ru_stime, 1),
                          "peak_mib": round(usage.ru_maxrss / 1024), "note": note}))
        return
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("mode", nargs="?", default="scale", choices=["scale", "quality"])
    parser.add_argument("--customers", type=int, default=None)
    parser.add_argument("--products", type=int, default=20_000)
    parser.add_argument("--steps", nargs="+", default=["load", *RECOMMENDERS, "recommend"])
    parser.add_argument("--data", type=Path, default=None, help="quality: a SEGMENTS_DATA_DIR")
    parser.add_argument("--shop", default="holdout", help="quality: a generator configuration, without --data")
    parser.add_argument("--holdout-start", default=None, help="quality: first day of the test window")
    args = parser.parse_args()
    if args.mode == "scale":
        scale(args.customers or 1_000_000, args.products, args.steps)
    else:
        quality(args.data, args.shop, args.customers or 15_000, args.holdout_start)


if __name__ == "__main__":
    main()

"""Meta-learning at scale: meta-training on N customers, and adapting to one new task of 10k customers.

    python bench/bench_meta.py [--sizes 200000 1000000] [--episodes 100]

The frames the meta-learning step reads (customer_features, meta_behavior_examples at four cutoffs) are drawn here
for N customers in five regions, each region with its own shift of six clusters, so the bench measures the Python
step alone (the SQL that builds those tables is in bench_pipeline.py). Each size runs in a fresh process. Targets:
meta-training on 1M customers under 5 minutes, adapting to a 10k-customer task under 1 second, on 2 cores. The
machine is shared: compare ratios measured side by side.
"""

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

REGIONS = ("North", "South", "East", "West", "Central")
N_FEATURES = 24
PERIODS = 4


def frames(n: int, seed: int = 0):
    """customer_features-like and meta_behavior_examples-like frames, five regions, six shifted clusters each."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    centres = rng.normal(scale=2.0, size=(6, N_FEATURES))
    shift = rng.normal(scale=0.7, size=(len(REGIONS), N_FEATURES))
    region = rng.integers(0, len(REGIONS), n)
    cluster = rng.integers(0, 6, n)
    X = centres[cluster] + shift[region] + rng.normal(size=(n, N_FEATURES))
    ids = np.char.add("C", np.arange(n).astype(str))
    features = pd.DataFrame(X, columns=[f"f{j:02d}" for j in range(N_FEATURES)])
    features.insert(0, "customer_id", ids)
    features["region"] = np.asarray(REGIONS)[region]
    labelled = np.concatenate([rng.choice(np.flatnonzero((region == 4) & (cluster == c)), 5, replace=False)
                               for c in range(6)])
    labels = pd.DataFrame({"customer_id": ids[labelled], "label": np.char.add("persona ", cluster[labelled]
                                                                                .astype(str))})
    rows = []
    weights = rng.normal(size=(len(REGIONS), N_FEATURES))
    for period in range(1, PERIODS + 1):
        logit = (X * weights[region]).sum(1) / np.sqrt(N_FEATURES)
        bought = rng.random(n) < 1 / (1 + np.exp(-logit))
        part = features.drop(columns=["customer_id"]).assign(period=period, purchased_next_horizon=bought,
                                                             spend_next_horizon=bought * np.exp(rng.normal(4, 1, n)))
        rows.append(part)
    segments = pd.DataFrame({"customer_id": ids, "segment_name": np.char.add("segment ", cluster.astype(str))})
    return features, labels, segments, pd.concat(rows, ignore_index=True)


def measure(n: int, episodes: int) -> dict:
    import numpy as np
    import torch

    from python_models.meta.pipeline import MetaSettings, learn_behaviour, learn_segments

    torch.set_num_threads(1)
    seconds = {}

    def timed(name, fn):
        start = time.perf_counter()
        out = fn()
        seconds[name] = round(time.perf_counter() - start, 2)
        print(f"# {n:,} {name}: {seconds[name]:.1f} s", file=sys.stderr, flush=True)
        return out

    features, labels, segments, examples = timed("draw frames", lambda: frames(n))
    settings = MetaSettings(episodes=episodes)
    seg = timed("segments: meta-train, adapt, evaluate",
                lambda: learn_segments(features, labels, segments, settings, log=lambda m: None))
    beh = timed("behaviour: meta-train, evaluate",
                lambda: learn_behaviour(examples, seg.training_tasks["held_out"], settings, log=lambda m: None))
    # one new task of 10k customers: adapt from its labels, assign every customer (transductive: the prototypes
    # refined over the task's other customers, as adapted_segments does); adapt the behaviour model
    X = seg.scaler.transform(features[seg.columns].to_numpy(np.float64)[:10_000])
    support = X[:30], np.repeat(np.arange(6), 5)
    start = time.perf_counter()
    predictor = seg.protonet.adapt(*support, X_unlabelled=X[30:])
    predictor.predict_proba(X)
    seconds["adapt protonet to a 10k task"] = round(time.perf_counter() - start, 3)
    Xb = beh.scaler.transform(examples[beh.columns].to_numpy(np.float64)[:10_000])
    bought = examples["purchased_next_horizon"].to_numpy()[:10_000].astype(float)
    spend = examples["spend_next_horizon"].to_numpy()[:10_000]
    start = time.perf_counter()
    behaviour = beh.learners["maml"].adapt(Xb[:20], bought[:20], spend[:20])
    behaviour.predict_proba(Xb), behaviour.predict_spend(Xb)
    seconds["adapt maml to a 10k task"] = round(time.perf_counter() - start, 3)
    seconds["meta-train and evaluate, total"] = round(seconds["segments: meta-train, adapt, evaluate"]
                                                      + seconds["behaviour: meta-train, evaluate"], 2)
    return {"customers": n, "seconds": seconds,
            "peak_rss_gb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 2)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[200_000, 1_000_000])
    parser.add_argument("--episodes", type=int, default=100)
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)  # a single size, in this process
    args = parser.parse_args(argv)
    if args.one:
        print(json.dumps(measure(args.one, args.episodes)))
        return 0
    results = []
    for n in args.sizes:  # a fresh process per size, so peak memory is that size's
        out = subprocess.run([sys.executable, __file__, "--one", str(n), "--episodes", str(args.episodes)],
                             check=True, capture_output=True, text=True, env={"OMP_NUM_THREADS": "1",
                                                                              **__import__("os").environ})
        results.append(json.loads(out.stdout.strip().splitlines()[-1]))
    print(f"{'customers':>10}  {'meta-train s':>12}  {'adapt protonet 10k s':>20}  {'adapt maml 10k s':>16}  "
          f"{'peak GB':>7}")
    for r in results:
        s = r["seconds"]
        print(f"{r['customers']:>10,}  {s['meta-train and evaluate, total']:>12.1f}  "
              f"{s['adapt protonet to a 10k task']:>20.3f}  {s['adapt maml to a 10k task']:>16.3f}  "
              f"{r['peak_rss_gb']:>7.2f}")
    print(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

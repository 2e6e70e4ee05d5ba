"""Fit and score ``lifetimes`` on a summary written by ``bench_clv.py``.

Runs inside an interpreter that has ``lifetimes`` (it cannot be installed beside
numpy 2 / pandas 3), so it imports nothing from this project.  Reads
frequency, recency, T (days), monetary, horizons, clv_months and discount from
SUMMARY.npz, writes the scores to SCORES.npz and prints JSON on stdout:
versions, per-phase [label, wall seconds, peak RSS MiB] rows and the fitted
parameters.

Usage::

    /path/to/lifetimes-env/bin/python bench/lifetimes_runner.py SUMMARY.npz SCORES.npz
"""

import json
import resource
import sys
import time

import lifetimes
import numpy as np
import pandas as pd
import scipy


def main() -> None:
    summary_path, scores_path = sys.argv[1:3]
    data = np.load(summary_path)
    df = pd.DataFrame({k: data[k] for k in ("frequency", "recency", "T", "monetary")})
    rep = df[df["frequency"] > 0]
    rows = []

    def timed(label, fn, *args, **kwargs):
        t0 = time.perf_counter()
        out = fn(*args, **kwargs)
        rows.append([label, time.perf_counter() - t0,
                     resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0])
        return out

    x, t_x, T = df["frequency"], df["recency"], df["T"]
    bg = timed("BG/NBD fit", lifetimes.BetaGeoFitter().fit, x, t_x, T)
    gg = timed("Gamma-Gamma fit (repeaters)", lifetimes.GammaGammaFitter().fit, rep["frequency"], rep["monetary"])
    scores = {"p_alive": timed("score P(alive)", bg.conditional_probability_alive, x, t_x, T)}
    for h in data["horizons"]:
        scores[f"e{h}"] = timed(f"score E[purchases {h} d]",
                                bg.conditional_expected_number_of_purchases_up_to_time, h, x, t_x, T)
    months = int(data["clv_months"])
    scores["clv"] = timed(f"score CLV {months} months", gg.customer_lifetime_value, bg, x, t_x, T, df["monetary"],
                          time=months, discount_rate=float(data["discount"]), freq="D")  # "D": T is in days
    np.savez(scores_path, **{k: np.asarray(v, dtype=np.float64) for k, v in scores.items()})
    print(json.dumps({
        "versions": {"python": sys.version.split()[0], "lifetimes": lifetimes.__version__,
                     "numpy": np.__version__, "pandas": pd.__version__,
                     "scipy": scipy.__version__},
        "rows": rows,
        "bg": {k: float(v) for k, v in bg.params_.items()},
        "gg": {k: float(v) for k, v in gg.params_.items()},
    }))


if __name__ == "__main__":
    main()

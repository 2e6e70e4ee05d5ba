"""Benchmark the CLV models on simulated customers (default 1,000,000).

Synthesises (frequency, recency, T, monetary) from BG/NBD + Gamma-Gamma with
known parameters (time in whole days, as a transaction table would give), then
times for ``python_models.clv``:

* BG/NBD fit and Gamma-Gamma fit (repeaters only),
* scoring every customer: P(alive), expected purchases in 30/90/365 days and
  12-month CLV (monthly discount 1 %),

and compares in the same run against a baseline on the same data:

* by default a straightforward scipy implementation: the same log-likelihood
  formulas evaluated on every row (no merging of identical rows), L-BFGS-B with
  scipy's finite-difference gradient, one start, and scoring by evaluating the
  formulas on every row for every horizon;
* with ``--lifetimes-python PATH``, ``lifetimes`` with its defaults, run by
  ``bench/lifetimes_runner.py`` in that interpreter (lifetimes 0.11 needs
  numpy < 2 and pandas < 2, so it lives in its own virtualenv).  The summary
  goes over in a temporary .npz; timings, parameters and scores come back.
  lifetimes' CLV with ``freq="D"`` counts a month as 30 days (ours 30.4375), so
  its CLV is compared with ours at 30-day months.

Prints figures only (no asserts).  Peak memory is the process high-water mark
(``ru_maxrss``) after each phase -- for lifetimes, that of its own process --
and, with ``--tracemalloc``, the peak of numpy/Python allocations inside each
phase (a second, traced pass).

Usage::

    .venv/bin/python bench/bench_clv.py [--n 1000000] [--seed 0] [--no-baseline] [--tracemalloc]
                                        [--lifetimes-python /tmp/ltvenv/bin/python]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np
from scipy.optimize import minimize
from scipy.special import expit, gammaln, hyp2f1

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from python_models.clv import (  # noqa: E402
    BetaGeoModel,
    GammaGammaModel,
    simulate_beta_geo,
    simulate_gamma_gamma_spend,
)

BG_TRUTH = {"r": 0.25, "alpha": 40.0, "a": 0.8, "b": 2.5}  # alpha in days
GG_TRUTH = {"p": 6.0, "q": 3.8, "v": 15.0}
HORIZONS_DAYS = (30, 90, 365)
CLV_MONTHS = 12
DISCOUNT = 0.01


def rss_mib() -> float:
    """Process peak resident set size so far, MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


class Timer:
    """Collects (label, seconds, peak RSS MiB, traced peak MiB) rows."""

    def __init__(self, trace: bool = False):
        self.rows: list[tuple[str, float, float, float | None]] = []
        self.trace = trace

    def run(self, label: str, fn, *args, **kwargs):
        if self.trace:
            tracemalloc.start()
        t0 = time.perf_counter()
        out = fn(*args, **kwargs)
        dt = time.perf_counter() - t0
        traced = None
        if self.trace:
            traced = tracemalloc.get_traced_memory()[1] / 2**20
            tracemalloc.stop()
        self.rows.append((label, dt, rss_mib(), traced))
        return out

    def total(self, labels) -> float:
        return sum(dt for label, dt, _, _ in self.rows if label in labels)

    def print(self, title: str) -> None:
        print(f"\n{title}")
        print(f"  {'phase':35s} {'seconds':>8s} {'peak RSS MiB':>13s}" + ("  traced peak MiB" if self.trace else ""))
        for label, dt, rss, traced in self.rows:
            extra = f"  {traced:15.0f}" if traced is not None else ""
            print(f"  {label:35s} {dt:8.2f} {rss:13.0f}{extra}")


def load_average() -> str:
    return " / ".join(f"{v:.2f}" for v in os.getloadavg())


# ----------------------------------------------------------------- data
def synthesize(n: int, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    T = rng.integers(1, 731, n).astype(np.float64)  # first purchase uniformly over 2 years
    sim = simulate_beta_geo(T, **BG_TRUTH, random_state=rng)
    recency = np.floor(sim["recency"])  # purchase dates are whole days
    monetary = simulate_gamma_gamma_spend(sim["frequency"], **GG_TRUTH, random_state=rng)
    return {"frequency": sim["frequency"], "recency": recency, "T": T, "monetary": monetary}


# -------------------------------------------------------------- this library
def run_ours(data: dict, timer: Timer) -> dict:
    x, t_x, T, m = data["frequency"], data["recency"], data["T"], data["monetary"]
    rep = x > 0
    bg = timer.run("BG/NBD fit", BetaGeoModel().fit, x, t_x, T)
    if not timer.trace:
        timer.run("(BG/NBD fit, n_starts=1: info only)", BetaGeoModel(n_starts=1).fit, x, t_x, T)
    gg = timer.run("Gamma-Gamma fit (repeaters)", GammaGammaModel().fit, x[rep], m[rep])
    scores = {"p_alive": timer.run("score P(alive)", bg.probability_alive, x, t_x, T)}
    for h in HORIZONS_DAYS:
        scores[f"e{h}"] = timer.run(f"score E[purchases {h} d]", bg.expected_purchases, h, x, t_x, T)
    scores["clv"] = timer.run(f"score CLV {CLV_MONTHS} months", gg.customer_lifetime_value, bg, x, t_x, T, m,
                              time_months=CLV_MONTHS, discount_rate=DISCOUNT, time_unit_days=1.0)
    return {"bg": bg, "gg": gg, "scores": scores}


# --------------------------------------------------- straightforward baseline
def naive_bg_nll(log_params, x, t_x, T):
    r, alpha, a, b = np.exp(log_params)
    A1 = gammaln(r + x) - gammaln(r) + r * np.log(alpha)
    A2 = gammaln(a + b) + gammaln(b + x) - gammaln(b) - gammaln(a + b + x)
    A3 = -(r + x) * np.log(alpha + T)
    A4 = np.log(a) - np.log(b + np.maximum(x, 1) - 1) - (r + x) * np.log(alpha + t_x)
    return -np.mean(A1 + A2 + np.logaddexp(A3, np.where(x > 0, A4, -np.inf)))


def naive_gg_nll(log_params, x, m):
    p, q, v = np.exp(log_params)
    ll = (gammaln(p * x + q) - gammaln(p * x) - gammaln(q) + q * np.log(v)
          + (p * x - 1) * np.log(m) + p * x * np.log(x) - (p * x + q) * np.log(x * m + v))
    return -np.mean(ll)


def naive_fit_bg(x, t_x, T):
    scale = 10.0 / T.max()
    res = minimize(naive_bg_nll, np.zeros(4), args=(x, t_x * scale, T * scale), method="L-BFGS-B")
    r, alpha, a, b = np.exp(res.x)
    return {"r": r, "alpha": alpha / scale, "a": a, "b": b}, res


def naive_fit_gg(x, m):
    scale = 1.0 / m.mean()
    res = minimize(naive_gg_nll, np.zeros(3), args=(x, m * scale), method="L-BFGS-B")
    p, q, v = np.exp(res.x)
    return {"p": p, "q": q, "v": v / scale}, res


def naive_p_alive(prm, x, t_x, T):
    r, alpha, a, b = prm["r"], prm["alpha"], prm["a"], prm["b"]
    log_div = (r + x) * np.log((alpha + T) / (alpha + t_x)) + np.log(a / (b + np.maximum(x, 1) - 1))
    return np.where(x == 0, 1.0, expit(-log_div))


def naive_expected(prm, t, x, t_x, T):
    r, alpha, a, b = prm["r"], prm["alpha"], prm["a"], prm["b"]
    hyp = hyp2f1(r + x, b + x, a + b + x - 1, t / (alpha + T + t))
    first = (a + b + x - 1) / (a - 1) * (1 - hyp * ((alpha + T) / (alpha + t + T)) ** (r + x))
    return first * naive_p_alive(prm, x, t_x, T)


def naive_clv(bg_prm, gg_prm, x, t_x, T, m):
    p, q, v = gg_prm["p"], gg_prm["q"], gg_prm["v"]
    value = p * (v + x * m) / (p * x + q - 1)
    month = 30.4375
    total = np.zeros_like(x)
    prev = 0.0
    for k in range(1, CLV_MONTHS + 1):
        cur = naive_expected(bg_prm, k * month, x, t_x, T)
        total += value * (cur - prev) / (1 + DISCOUNT) ** k
        prev = cur
    return total


def run_naive(data: dict, timer: Timer) -> dict:
    x, t_x, T, m = data["frequency"], data["recency"], data["T"], data["monetary"]
    rep = x > 0
    bg_prm, bg_res = timer.run("BG/NBD fit", naive_fit_bg, x, t_x, T)
    gg_prm, gg_res = timer.run("Gamma-Gamma fit (repeaters)", naive_fit_gg, x[rep], m[rep])
    scores = {"p_alive": timer.run("score P(alive)", naive_p_alive, bg_prm, x, t_x, T)}
    for h in HORIZONS_DAYS:
        scores[f"e{h}"] = timer.run(f"score E[purchases {h} d]", naive_expected, bg_prm, h, x, t_x, T)
    scores["clv"] = timer.run(f"score CLV {CLV_MONTHS} months", naive_clv, bg_prm, gg_prm, x, t_x, T, m)
    return {"bg": bg_prm, "gg": gg_prm, "bg_res": bg_res, "gg_res": gg_res, "scores": scores}


# ------------------------------------------------ lifetimes, in its own venv
def run_lifetimes(python: str, data: dict, timer: Timer) -> dict:
    """Run ``lifetimes_runner.py`` under ``python``; its per-phase rows go into ``timer``."""
    runner = Path(__file__).with_name("lifetimes_runner.py")
    with tempfile.TemporaryDirectory() as tmp:
        summary, scores = Path(tmp, "summary.npz"), Path(tmp, "scores.npz")
        np.savez(summary, **data, horizons=np.array(HORIZONS_DAYS), clv_months=CLV_MONTHS, discount=DISCOUNT)
        proc = subprocess.run([python, str(runner), str(summary), str(scores)],
                              stdout=subprocess.PIPE, text=True, check=True)
        out = json.loads(proc.stdout.splitlines()[-1])
        with np.load(scores) as z:
            out["scores"] = {k: z[k] for k in z.files}
    timer.rows = [(label, dt, rss, None) for label, dt, rss in out["rows"]]
    return out


# -------------------------------------------------------------------- main
def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1_000_000, help="number of customers")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-baseline", action="store_true", help="skip the comparison run")
    ap.add_argument("--tracemalloc", action="store_true", help="second pass with per-phase traced peaks")
    ap.add_argument("--lifetimes-python", metavar="PATH",
                    help="interpreter with lifetimes installed; compare against it instead of the scipy baseline")
    args = ap.parse_args()

    print(f"python {platform.python_version()}, numpy {np.__version__}, {os.cpu_count()} CPUs, "
          f"load average (1/5/15 min) {load_average()}")
    t0 = time.perf_counter()
    data = synthesize(args.n, args.seed)
    x = data["frequency"]
    print(f"simulated {args.n:,} customers in {time.perf_counter() - t0:.2f} s: "
          f"{(x > 0).mean():.1%} repeaters, mean frequency {x.mean():.3f}, max {x.max():.0f}; "
          f"peak RSS {rss_mib():.0f} MiB")
    print(f"truth BG/NBD {BG_TRUTH} (alpha in days), Gamma-Gamma {GG_TRUTH}")

    ours_timer = Timer()
    ours = run_ours(data, ours_timer)
    ours_timer.print("python_models.clv")
    fit_labels = ("BG/NBD fit", "Gamma-Gamma fit (repeaters)")
    score_labels = tuple(label for label, *_ in ours_timer.rows if label.startswith("score"))
    ours_fit, ours_score = ours_timer.total(fit_labels), ours_timer.total(score_labels)
    print(f"  fit {ours_fit:.2f} s + scoring {ours_score:.2f} s = {ours_fit + ours_score:.2f} s "
          f"(target < 30 s); peak RSS {rss_mib():.0f} MiB")
    bg, gg = ours["bg"], ours["gg"]
    print(f"  BG/NBD: {bg.n_unique_rows_:,} distinct (x, t_x, T) rows of {args.n:,}; "
          f"{bg.n_starts} starts, {bg.n_starts_accepted_} converged; LL {bg.log_likelihood_:.2f}")
    for name, model, truth in (("BG/NBD", bg, BG_TRUTH), ("Gamma-Gamma", gg, GG_TRUTH)):
        cells = ", ".join(f"{k}={model.params_[k]:.4g}±{model.standard_errors_[k]:.2g} (true {truth[k]})"
                          for k in truth)
        print(f"  {name} estimates: {cells}")
    s = ours["scores"]
    print(f"  mean P(alive) {s['p_alive'].mean():.4f}; mean E[purchases 30/90/365 d] "
          f"{s['e30'].mean():.4f} / {s['e90'].mean():.4f} / {s['e365'].mean():.4f}; "
          f"mean CLV {s['clv'].mean():.2f}, total CLV {s['clv'].sum():,.0f}")

    if not args.no_baseline:
        base_timer = Timer()
        ref = dict(s)
        if args.lifetimes_python:
            base = run_lifetimes(args.lifetimes_python, data, base_timer)
            v = base["versions"]
            name = (f"lifetimes {v['lifetimes']}, default settings, in {args.lifetimes_python} (python {v['python']}, "
                    f"numpy {v['numpy']}, pandas {v['pandas']}, scipy {v['scipy']})")
            base_rss = f"peak RSS {base_timer.rows[-1][2]:.0f} MiB (its own process)"
            # lifetimes' freq="D" month is 30 days: compare its CLV with ours at the same month length
            ref["clv"] = gg.customer_lifetime_value(bg, x, data["recency"], data["T"], data["monetary"],
                                                    time_months=CLV_MONTHS, discount_rate=DISCOUNT,
                                                    days_per_month=30.0)
        else:
            base = run_naive(data, base_timer)
            name = "straightforward scipy: every row, finite-difference gradient, L-BFGS-B, 1 start"
            base_rss = f"peak RSS {rss_mib():.0f} MiB (cumulative, includes the run above)"
        base_timer.print(f"baseline: {name}")
        base_fit, base_score = base_timer.total(fit_labels), base_timer.total(score_labels)
        print(f"  fit {base_fit:.2f} s + scoring {base_score:.2f} s = {base_fit + base_score:.2f} s; {base_rss}")
        if "bg_res" in base:
            print(f"  BG/NBD optimizer: {base['bg_res'].nfev} evaluations, {base['bg_res'].message}; "
                  f"Gamma-Gamma: {base['gg_res'].nfev} evaluations, {base['gg_res'].message}")

        print(f"\nparameters (alpha in days):\n  {'':18s} {'truth':>8s} {'ours':>12s} {'baseline':>12s} "
              f"{'rel. diff':>10s}")
        for model_name, model, truth, key in (("BG/NBD", bg, BG_TRUTH, "bg"), ("Gamma-Gamma", gg, GG_TRUTH, "gg")):
            for k in truth:
                o, b = model.params_[k], base[key][k]
                print(f"  {model_name:11s} {k:6s} {truth[k]:8.4g} {o:12.6g} {b:12.6g} {b / o - 1:+10.1e}")
        for key in s:
            d = np.max(np.abs(np.asarray(base["scores"][key]) - ref[key]) / np.maximum(np.abs(ref[key]), 1e-12))
            print(f"  score {key:8s} max rel. diff vs ours {d:.1e}")

        print(f"\nside by side, wall seconds:\n  {'phase':35s} {'ours':>8s} {'baseline':>9s} {'baseline/ours':>14s}")
        base_times = {lb: bt for lb, bt, _, _ in base_timer.rows}
        for label, dt, _, _ in ours_timer.rows:
            b = base_times.get(label, base_times["BG/NBD fit"])
            print(f"  {label:35s} {dt:8.2f} {b:9.2f} {b / dt:13.1f}x")
        for label, o, b in (("fit total", ours_fit, base_fit), ("scoring total", ours_score, base_score),
                            ("fit + scoring", ours_fit + ours_score, base_fit + base_score)):
            print(f"  {label:35s} {o:8.2f} {b:9.2f} {b / o:13.1f}x")

    if args.tracemalloc:
        traced = Timer(trace=True)
        run_ours(data, traced)
        traced.print("python_models.clv, traced pass (tracemalloc slows it down; memory, not time)")
    print(f"\nload average at the end (1/5/15 min) {load_average()}")


if __name__ == "__main__":
    main()

"""Purchase propensity: gradient boosting on behavioural features, compared with BG/NBD on a temporal holdout.

The winner of each scope on the holdout also sets churn risk (`churn_risk`): its score, calibrated on the holdout
into P(no purchase in the horizon), cut into levels by python_models.clv.churn.
"""

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import roc_auc_score

from python_models.clv import BetaGeoModel, ConvergenceError
from python_models.clv.churn import LEVELS, RiskThresholds, calibrate_purchase_score, risk_thresholds
from python_models.clv.fallback import fit_with_fallback

FEATURES = ["frequency", "recency_days", "tenure_days", "days_since_last_order", "order_count", "avg_order_value",
            "return_rate", "spend_last_horizon", "orders_last_horizon"]
# The candidate purchase scores, higher = likelier to buy; on a tie in AUC the first one listed wins.
SCORES = ("gradient_boosting", "bg_nbd_p_alive", "bg_nbd_expected_purchases")
# Where each model may win: one-time buyers have little history for BG/NBD to condition on.
SCOPES = {"all customers": None, "one-time buyers": 0.0, "repeat buyers": 1.0}
ALL = "all customers"
# The scopes that split the customers in two: each customer's churn risk comes from its own scope's winner.
PARTITION = ("one-time buyers", "repeat buyers")


def scope_mask(frequency, scope: str) -> np.ndarray:
    """Which customers (by repeat-purchase `frequency`) belong to `scope`.

    Examples
    --------
    >>> scope_mask([0, 2, 0], "repeat buyers").tolist(), scope_mask([0, 2, 0], ALL).tolist()
    ([False, True, False], [True, True, True])
    """
    frequency = np.asarray(frequency, dtype=float)
    repeat = SCOPES[scope]
    return np.ones(len(frequency), bool) if repeat is None else (frequency > 0) == bool(repeat)


def unlearnable(examples: pd.DataFrame, label: str = "purchased_next_horizon") -> str | None:
    """Why no model can learn from these labelled examples (a small or new shop), or None when one can.

    Examples
    --------
    >>> unlearnable(pd.DataFrame({"purchased_next_horizon": [True, True]}))
    'all 2 customers bought in the horizon after the cutoff: there is nothing to tell apart'
    >>> unlearnable(pd.DataFrame({"purchased_next_horizon": [True, False]})) is None
    True
    """
    if examples.empty:
        return "no customer had bought by the cutoff"
    rate = float(examples[label].astype(bool).mean())
    if rate in (0.0, 1.0):
        who = "the one customer" if len(examples) == 1 else f"all {len(examples)} customers"
        did = "bought" if rate == 1.0 else "did not buy"
        return f"{who} {did} in the horizon after the cutoff: there is nothing to tell apart"
    return None


def fit_propensity(examples: pd.DataFrame, label: str = "purchased_next_horizon", random_state: int = 0):
    """A HistGradientBoostingClassifier of `label` on FEATURES (seeded, deterministic).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = pd.DataFrame(rng.exponential(10, (400, len(FEATURES))), columns=FEATURES)
    >>> X["purchased_next_horizon"] = X["days_since_last_order"] < 8
    >>> model = fit_propensity(X)
    >>> float(model.predict_proba(X[FEATURES])[:, 1].mean()) > 0
    True
    """
    model = HistGradientBoostingClassifier(max_iter=200, learning_rate=0.1, early_stopping=False,
                                           random_state=random_state)
    return model.fit(examples[FEATURES].to_numpy(float), examples[label].to_numpy(bool))


def bg_nbd_scores(examples: pd.DataFrame, horizon_days: float, period_days: float = 7.0) -> dict[str, np.ndarray]:
    """BG/NBD fitted on the examples' own history: P(alive) and expected purchases in the horizon."""
    f = examples["frequency"].to_numpy(float)
    r = examples["recency_days"].to_numpy(float) / period_days
    t = np.maximum(examples["tenure_days"].to_numpy(float), 1.0) / period_days
    model = fit_with_fallback(BetaGeoModel, f, r, t)
    return {"bg_nbd_p_alive": model.probability_alive(f, r, t),
            "bg_nbd_expected_purchases": model.expected_purchases(horizon_days / period_days, f, r, t)}


def candidate_scores(model, examples: pd.DataFrame, horizon_days: float) -> pd.DataFrame:
    """Every score in SCORES for `examples`, one column each, in the examples' row order.

    `model` is the gradient boosting fitted on the examples labelled one horizon earlier (fit_propensity); BG/NBD
    is fitted on the examples' own history. The same procedure at the test cutoff (model fitted on the train
    examples) gives the holdout scores, and at the snapshot (model fitted on the test examples) today's.
    When BG/NBD cannot be fitted (e.g. nobody has bought twice yet) its scores are NaN, and
    `scores.attrs["unavailable"]` says why; compare_on_holdout then gives them no AUC.
    """
    try:
        bg_nbd, unavailable = bg_nbd_scores(examples, horizon_days), {}
    except ConvergenceError as error:
        bg_nbd = {name: np.full(len(examples), np.nan) for name in SCORES if name.startswith("bg_nbd")}
        unavailable = {name: str(error) for name in bg_nbd}
    scores = pd.DataFrame({"gradient_boosting": model.predict_proba(examples[FEATURES].to_numpy(float))[:, 1],
                           **bg_nbd})[list(SCORES)]
    scores.attrs["unavailable"] = unavailable
    return scores


def compare_on_holdout(test: pd.DataFrame, scores: pd.DataFrame) -> pd.DataFrame:
    """AUC of each score on the test cutoff's outcomes, overall and for one-time and repeat buyers.

    `scores` are the test examples' candidate_scores. Returns one row per (scope, score):
    `scope, score, customers, positive_rate, auc, best_in_scope`. The best is the highest AUC, the first in SCORES
    on a tie, and none where the AUC is undefined (no customer in the scope, all or none bought, or the score is
    unavailable).
    """
    label = test["purchased_next_horizon"].to_numpy(bool)
    rows = []
    for scope in SCOPES:
        mask = scope_mask(test["frequency"], scope)
        defined = mask.any() and 0 < label[mask].mean() < 1
        for name in SCORES:
            score = scores[name].to_numpy(float)
            scored = defined and bool(np.isfinite(score[mask]).all())
            rows.append({"scope": scope, "score": name, "customers": int(mask.sum()),
                         "positive_rate": float(label[mask].mean()) if mask.any() else np.nan,
                         "auc": float(roc_auc_score(label[mask], score[mask])) if scored else np.nan})
    table = pd.DataFrame(rows)
    best = [group["auc"].idxmax() for _, group in table.groupby("scope", sort=False) if group["auc"].notna().any()]
    return table.assign(best_in_scope=table.index.isin(best))


def churn_sources(evaluation: pd.DataFrame) -> dict[str, tuple[str | None, str | None]]:
    """For each scope of PARTITION: (the score that sets its churn risk, the scope whose holdout winner it is).

    A scope's own winner, else the `all customers` winner, else (None, None).

    Examples
    --------
    >>> evaluation = pd.DataFrame({"scope": [ALL, ALL, "repeat buyers"], "best_in_scope": [False, True, True],
    ...                            "score": ["gradient_boosting", "bg_nbd_p_alive", "gradient_boosting"]})
    >>> churn_sources(evaluation)
    {'one-time buyers': ('bg_nbd_p_alive', 'all customers'), 'repeat buyers': ('gradient_boosting', 'repeat buyers')}
    """
    winners = dict(evaluation.loc[evaluation["best_in_scope"], ["scope", "score"]].itertuples(index=False))
    sources = {}
    for scope in PARTITION:
        fitted_on = scope if scope in winners else ALL if ALL in winners else None
        sources[scope] = (winners.get(fitted_on), fitted_on)
    return sources


def churn_risk(holdout: pd.DataFrame, holdout_scores: pd.DataFrame, current: pd.DataFrame,
               current_scores: pd.DataFrame, evaluation: pd.DataFrame, high_share: float = 0.25,
               low_share: float = 0.25, min_bin_size: int = 50) -> tuple[pd.DataFrame, pd.DataFrame, RiskThresholds]:
    """Churn probability and risk level of the holdout's customers and of today's, from each scope's winner.

    For each scope of PARTITION (one-time and repeat buyers), the score that wins it in `evaluation` is calibrated
    on that scope's holdout customers (isotonic: score -> observed purchase rate, on bins of at least
    `min_bin_size` customers: python_models.clv.churn.calibrate_purchase_score), and
    `churn_probability` = 1 - calibrated P(purchase in the horizon). A scope without a winner (its AUC undefined)
    borrows the `all customers` winner, calibrated on all holdout customers; without that either, its customers get
    no probability and no level. The level cut points (python_models.clv.churn.risk_thresholds) are set on all
    holdout customers' probabilities and applied unchanged to today's.

    `holdout` has `frequency` and `purchased_next_horizon`, `current` has `frequency`; the `*_scores` frames are
    their candidate_scores, row for row. Returns, for the holdout and for today, one row per input row
    (`churn_score_scope`, `churn_score_source`, `churn_score`, `churn_probability`, `churn_risk`), and the cut points.
    """
    label = holdout["purchased_next_horizon"].to_numpy(bool)
    outputs = []
    for frame in (holdout, current):
        outputs.append(pd.DataFrame({"churn_score_scope": pd.Series([None] * len(frame), dtype=object),
                                     "churn_score_source": pd.Series([None] * len(frame), dtype=object),
                                     "churn_score": np.nan, "churn_probability": np.nan}))
    for scope, (source, fitted_on) in churn_sources(evaluation).items():
        if source is None:
            continue
        fit = scope_mask(holdout["frequency"], fitted_on)
        calibrator = calibrate_purchase_score(holdout_scores[source].to_numpy(float)[fit], label[fit], min_bin_size)
        for frame, scores, out in ((holdout, holdout_scores, outputs[0]), (current, current_scores, outputs[1])):
            mask = scope_mask(frame["frequency"], scope)
            score = scores[source].to_numpy(float)[mask]
            out.loc[mask, ["churn_score_scope", "churn_score_source"]] = fitted_on, source
            out.loc[mask, "churn_score"] = score
            out.loc[mask, "churn_probability"] = 1.0 - calibrator.predict(score)
    thresholds = risk_thresholds(outputs[0]["churn_probability"], high_share, low_share)
    for out in outputs:
        out["churn_risk"] = thresholds.level(out["churn_probability"])
    return outputs[0], outputs[1], thresholds


def churn_levels(holdout_risk: pd.DataFrame, purchased, current_risk: pd.DataFrame,
                 thresholds: RiskThresholds) -> pd.DataFrame:
    """One row per level: its churn-probability range, holdout customers and purchase rate, today's customers.

    Examples
    --------
    >>> holdout = pd.DataFrame({"churn_probability": [0.9, 0.5, 0.1, 0.1],
    ...                         "churn_risk": ["high", "medium", "low", "low"]})
    >>> today = pd.DataFrame({"churn_probability": [0.9, 0.9], "churn_risk": ["high", "high"]})
    >>> churn_levels(holdout, [False, True, True, False], today, RiskThresholds(0.1, 0.9))[
    ...     ["churn_risk", "holdout_purchase_rate", "share"]].to_dict("list")
    {'churn_risk': ['high', 'medium', 'low'], 'holdout_purchase_rate': [0.0, 1.0, 0.5], 'share': [1.0, 0.0, 0.0]}
    """
    purchased = np.asarray(purchased, dtype=bool)
    rows = []
    for level in LEVELS:
        in_holdout = (holdout_risk["churn_risk"] == level).to_numpy()
        today = (current_risk["churn_risk"] == level).to_numpy()
        rows.append({
            "churn_risk": level,
            "churn_probability_from": thresholds.high_from if level == "high" else None,
            "churn_probability_to": thresholds.low_to if level == "low" else None,
            "holdout_customers": int(in_holdout.sum()),
            "holdout_share": float(in_holdout.mean()) if len(in_holdout) else np.nan,
            "holdout_purchase_rate": float(purchased[in_holdout].mean()) if in_holdout.any() else np.nan,
            "customers": int(today.sum()),
            "share": float(today.mean()) if len(today) else np.nan,
        })
    return pd.DataFrame(rows)

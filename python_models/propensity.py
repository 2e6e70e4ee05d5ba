"""Purchase propensity: gradient boosting on behavioural features, compared with BG/NBD on a temporal holdout."""

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import roc_auc_score

from python_models.clv import BetaGeoModel
from python_models.clv.fallback import fit_with_fallback

FEATURES = ["frequency", "recency_days", "tenure_days", "days_since_last_order", "order_count", "avg_order_value",
            "return_rate", "spend_last_horizon", "orders_last_horizon"]
# Where each model may win: one-time buyers have little history for BG/NBD to condition on.
SCOPES = {"all customers": None, "one-time buyers": 0.0, "repeat buyers": 1.0}


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


def compare_on_holdout(train: pd.DataFrame, test: pd.DataFrame, horizon_days: float,
                       random_state: int = 0) -> pd.DataFrame:
    """AUC of each score on the test cutoff's outcomes, overall and for one-time and repeat buyers.

    Returns one row per (scope, score): `scope, score, auc, customers, positive_rate, best_in_scope`.
    """
    label = test["purchased_next_horizon"].to_numpy(bool)
    scores = {"gradient_boosting": fit_propensity(train, random_state=random_state)
              .predict_proba(test[FEATURES].to_numpy(float))[:, 1],
              **bg_nbd_scores(test, horizon_days)}
    rows = []
    for scope, repeat in SCOPES.items():
        mask = np.ones(len(test), bool) if repeat is None else (test["frequency"].to_numpy() > 0) == bool(repeat)
        for name, score in scores.items():
            defined = mask.any() and 0 < label[mask].mean() < 1
            rows.append({"scope": scope, "score": name, "customers": int(mask.sum()),
                         "positive_rate": float(label[mask].mean()) if mask.any() else np.nan,
                         "auc": float(roc_auc_score(label[mask], score[mask])) if defined else np.nan})
    table = pd.DataFrame(rows)
    best = table.groupby("scope")["auc"].transform("max")
    return table.assign(best_in_scope=table["auc"].eq(best))

"""Holdout evaluation of a fitted purchase-count model: per-frequency bins, error metrics, tracking curve."""

import io

import numpy as np
import pandas as pd


def holdout_by_frequency(model, frequency, recency, T, frequency_holdout, duration_holdout, max_bin: int = 7):
    """Actual against predicted holdout purchases, per calibration-frequency bin, plus an `all` row with errors.

    The bins are 0, 1, …, max_bin - 1 and `max_bin+` (as in the BTYD vignette's conditional-expectation table).

    Parameters
    ----------
    model : fitted BetaGeoModel or ParetoNBDModel
    frequency, recency, T : array-like
        Calibration summary.
    frequency_holdout : array-like
        Purchases observed in the holdout.
    duration_holdout : float or array-like
        Holdout length, in the model's time unit.

    Returns
    -------
    DataFrame
        `frequency_bin, customers, actual_mean, predicted_mean, actual_total, predicted_total, mae, rmse,
        total_error_pct`; the error columns are filled on the `all` row only.

    Examples
    --------
    >>> from python_models.clv import BetaGeoModel
    >>> m = BetaGeoModel.from_params(r=0.243, alpha=4.414, a=0.793, b=2.426)
    >>> table = holdout_by_frequency(m, [0, 2], [0, 30.43], [38.86, 38.86], [0, 1], 39)
    >>> table["frequency_bin"].tolist()
    ['0', '2', 'all']
    """
    frequency = np.asarray(frequency, dtype=float)
    actual = np.asarray(frequency_holdout, dtype=float)
    predicted = model.expected_purchases(duration_holdout, frequency, recency, T)
    bins = np.minimum(frequency, max_bin).astype(int)
    frame = pd.DataFrame({"bin": bins, "actual": actual, "predicted": predicted})
    per_bin = frame.groupby("bin").agg(customers=("actual", "size"), actual_mean=("actual", "mean"),
                                       predicted_mean=("predicted", "mean"), actual_total=("actual", "sum"),
                                       predicted_total=("predicted", "sum")).reset_index()
    per_bin["frequency_bin"] = per_bin["bin"].map(lambda b: f"{b}+" if b == max_bin else str(b))
    error = predicted - actual
    overall = pd.DataFrame([{
        "frequency_bin": "all", "customers": len(frame), "actual_mean": actual.mean(),
        "predicted_mean": predicted.mean(), "actual_total": actual.sum(), "predicted_total": predicted.sum(),
        "mae": np.abs(error).mean(), "rmse": np.sqrt(np.mean(error ** 2)),
        "total_error_pct": 100.0 * (predicted.sum() - actual.sum()) / actual.sum() if actual.sum() else np.nan,
    }])
    columns = ["frequency_bin", "customers", "actual_mean", "predicted_mean", "actual_total", "predicted_total",
               "mae", "rmse", "total_error_pct"]
    return pd.concat([per_bin.drop(columns="bin"), overall], ignore_index=True).reindex(columns=columns)


def tracking_curve(model, first_period, repeat_period, n_periods: int, calibration_periods: float) -> pd.DataFrame:
    """Cumulative repeat purchases, actual and expected, period by period (the BTYD "tracking" plot).

    Parameters
    ----------
    model : fitted BetaGeoModel or ParetoNBDModel
    first_period : array-like
        Per customer, when the first purchase happened, in periods since the start of the data.
    repeat_period : array-like
        Per repeat purchase (any customer), when it happened, in periods since the start.
    n_periods : int
        Length of the curve.
    calibration_periods : float
        Where calibration ends, to mark on the curve.

    Returns
    -------
    DataFrame
        `period, actual_cumulative, expected_cumulative, in_calibration`.
    """
    first_period = np.asarray(first_period, dtype=float)
    periods = np.arange(1, n_periods + 1, dtype=float)
    # customers who start together share one curve: evaluate E[X(t)] once per cohort
    cohorts, counts = np.unique(first_period, return_counts=True)
    ages = np.clip(periods[:, None] - cohorts[None, :], 0.0, None)
    expected = (model.expected_purchases_unconditional(ages.ravel()).reshape(ages.shape) * counts).sum(axis=1)
    actual = np.searchsorted(np.sort(np.asarray(repeat_period, dtype=float)), periods, side="right")
    return pd.DataFrame({"period": periods.astype(int), "actual_cumulative": actual,
                         "expected_cumulative": expected, "in_calibration": periods <= calibration_periods})


def plot_tracking(curve: pd.DataFrame, period_days: int) -> bytes:
    """The tracking curve as PNG bytes, with the calibration end marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 3.5), dpi=100)
    ax.plot(curve["period"], curve["actual_cumulative"], label="actual", color="black")
    ax.plot(curve["period"], curve["expected_cumulative"], label="BG/NBD expected", color="tab:blue", ls="--")
    calibration_end = curve.loc[curve["in_calibration"], "period"].max()
    if pd.notna(calibration_end):
        ax.axvline(calibration_end, color="grey", lw=0.8)
    ax.set_xlabel(f"periods of {period_days} days since the first purchase in the data")
    ax.set_ylabel("cumulative repeat purchases")
    ax.legend(loc="upper left")
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", metadata={"Software": None})
    plt.close(fig)
    return buffer.getvalue()

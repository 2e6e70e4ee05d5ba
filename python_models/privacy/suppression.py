"""Small-group suppression: a figure about fewer than k customers is not shown to BI readers."""

import pandas as pd


def suppress_small_groups(frame: pd.DataFrame, size_column: str, min_size: int,
                          columns: list[str] | None = None) -> pd.DataFrame:
    """A copy with the figures of groups smaller than `min_size` set to missing, and an `is_suppressed` column.

    `columns` are the figures to blank (default: every numeric column, the group size included); identifying
    columns such as a segment's id and name stay, so readers see that a group exists and that it was suppressed.

    Examples
    --------
    >>> profiles = pd.DataFrame({"segment": ["a", "b"], "customers": [120, 4], "avg_spend": [53.0, 910.0]})
    >>> suppress_small_groups(profiles, "customers", 10)
      segment  customers  avg_spend  is_suppressed
    0       a        120       53.0          False
    1       b       <NA>        NaN           True
    """
    if min_size < 1:
        raise ValueError(f"the smallest group shown must be at least 1 customer, got {min_size}")
    out = frame.copy()
    small = out[size_column].to_numpy() < min_size
    figures = columns if columns is not None else list(out.select_dtypes("number").columns)
    for column in figures:
        if small.any():
            if out[column].dtype.kind in "iu":  # stays an integer column with missing values (Arrow int64)
                out[column] = out[column].astype("Int64")
            out.loc[small, column] = None
    out["is_suppressed"] = small
    return out

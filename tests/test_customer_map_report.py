"""2-D customer map (python_models.customer_map) and the HTML report (python_models.report)."""

import base64
import re

import numpy as np
import pandas as pd
import pytest

from python_models.customer_map import MAP_COLUMNS, customer_map
from python_models.explain import surrogate_rules
from python_models.report import segment_report
from python_models.tracking import transition_matrix


@pytest.fixture(scope="module")
def clustered():
    """300 customers in three blobs of a 6-D 'transformed' space."""
    rng = np.random.default_rng(0)
    segment_ids = np.repeat([1, 2, 3], 100)
    centres = rng.normal(scale=4.0, size=(3, 6))
    X = centres[segment_ids - 1] + rng.normal(size=(300, 6))
    ids = np.array([f"c{i:03d}" for i in range(300)])
    return X, ids, segment_ids


@pytest.fixture(scope="module")
def map_points(clustered):
    X, ids, segment_ids = clustered
    return customer_map(X, ids, sample_size=120, random_state=0, segment_ids=segment_ids)


# --------------------------------------------------------------------------------------------------------
# customer_map
# --------------------------------------------------------------------------------------------------------


def test_map_has_every_customer_in_pca_and_the_sample_in_tsne(clustered, map_points):
    X, ids, segment_ids = clustered
    assert list(map_points.columns) == MAP_COLUMNS + ["segment_id"]
    assert len(map_points) == 300 + 120
    pca = map_points[map_points["method"] == "pca"]
    tsne = map_points[map_points["method"] == "tsne"]
    assert pca["customer_id"].tolist() == ids.tolist()  # all customers, input order
    assert len(tsne) == 120 and tsne["customer_id"].is_unique and set(tsne["customer_id"]) <= set(ids)
    assert tsne["customer_id"].tolist() == sorted(tsne["customer_id"])  # sample kept in input order
    assert np.isfinite(map_points[["x", "y"]].to_numpy()).all()
    # PCA: centred, first axis carries the most variance
    assert abs(pca["x"].mean()) < 1e-9 and pca["x"].var() >= pca["y"].var()
    lookup = dict(zip(ids, segment_ids))
    assert (tsne["segment_id"].to_numpy() == tsne["customer_id"].map(lookup).to_numpy()).all()


def test_map_is_deterministic_and_the_sample_is_optional(clustered, map_points):
    X, ids, segment_ids = clustered
    again = customer_map(X, ids, sample_size=120, random_state=0, segment_ids=segment_ids)
    pd.testing.assert_frame_equal(map_points, again)

    pca_only = customer_map(X, ids, method_sample=None)
    assert len(pca_only) == 300 and (pca_only["method"] == "pca").all()
    small = customer_map(X[:40], ids[:40], sample_size=5000)
    assert (small["method"] == "tsne").sum() == 40  # sample capped at n
    with pytest.raises(ValueError, match="entries"):
        customer_map(X, ids[:-1])


# --------------------------------------------------------------------------------------------------------
# segment_report
# --------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def profiles():
    return pd.DataFrame(
        {
            "segment_id": [1, 2, 3],
            "segment_name": ["Loyal app shoppers", "Lapsed", "Bargain <hunters>"],
            "size": [100, 100, 100],
            "lift_order_count": [1.8, 0.4, 0.9],
            "lift_days_since_last_order": [0.3, 2.5, 1.0],
            "lift_channel_share_01": [2.1, 0.7, np.nan],
        }
    )


@pytest.fixture(scope="module")
def transitions(clustered):
    _, ids, segment_ids = clustered
    prev = pd.DataFrame({"customer_id": ids, "segment": segment_ids})
    curr = prev.iloc[10:].assign(segment=lambda d: np.where(np.arange(len(d)) < 15, 2, d["segment"]))
    return transition_matrix(prev, curr, "2025-11-30", "2025-12-31")


def _images(page):
    return [base64.b64decode(b) for b in re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)]


def test_report_has_the_sections_and_inline_images(profiles, map_points, transitions):
    page = segment_report(profiles, map_points, transitions, title="December <2025>")

    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    assert "<title>December &lt;2025&gt;</title>" in page  # escaped
    for section in ("sizes", "profiles", "map", "transitions"):
        assert f'<section id="{section}">' in page
    images = _images(page)
    assert len(images) == 4 == page.count("<img ")
    assert all(png.startswith(b"\x89PNG\r\n\x1a\n") for png in images)
    assert not any(b"Software" in png for png in images)  # no version/date metadata in the PNGs
    assert "Bargain &lt;hunters&gt;" in page and "<hunters>" not in page
    assert "http" not in page.replace("http-equiv", "")  # self-contained: nothing fetched


def test_report_is_deterministic(profiles, map_points, transitions):
    first = segment_report(profiles, map_points, transitions, title="Snapshot")
    second = segment_report(profiles, map_points, transitions, title="Snapshot")
    assert first == second


def test_report_without_transitions_and_with_a_separate_segment_table(clustered, profiles, map_points):
    _, ids, segment_ids = clustered
    bare = map_points.drop(columns="segment_id")
    segments = pd.DataFrame({"customer_id": ids, "segment_id": segment_ids})
    page = segment_report(profiles, bare, None, title="No history", segments=segments)

    assert 'id="transitions"' not in page
    assert len(_images(page)) == 3
    # the joined labels colour the map exactly as map_points' own segment_id column does
    assert page == segment_report(profiles, map_points, None, title="No history")


def test_report_optional_tables_and_input_checks(profiles, map_points):
    rules = pd.DataFrame({"segment": [1], "rule": ["order_count > 7"], "precision": [0.9], "coverage": [0.8],
                          "support": [90]})
    drift = pd.DataFrame({"feature": ["net_revenue", "order_count"], "psi": [0.31, 0.02],
                          "drifted": [True, False]})
    page = segment_report(profiles, map_points, title="Extras", rules=rules, drift=drift)
    assert 'id="rules"' in page and "order_count &gt; 7" in page
    assert 'id="drift"' in page and page.index("net_revenue") < page.index("order_count", page.index('id="drift"'))

    with pytest.raises(ValueError, match="profiles lacks"):
        segment_report(profiles.drop(columns="size"), map_points)
    with pytest.raises(ValueError, match="map_points lacks"):
        segment_report(profiles, map_points.drop(columns="x"))


def test_report_shows_the_fidelity_of_surrogate_rules(profiles, map_points):
    features = pd.DataFrame({"x": np.arange(1.0, 11.0)})
    rules = surrogate_rules(features, ["A"] * 6 + ["B"] * 4, max_depth=1, min_samples_leaf=1)
    page = segment_report(profiles, map_points, title="Rules", rules=rules)
    assert "100.0% of customers" in page and "x ≤ 6" in page

"""Privacy: differentially private segment counts (Laplace mechanism) and small-group suppression."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from python_models.privacy import laplace_counts, release_rng, suppress_small_groups
from tests.pipeline import query


def test_laplace_noise_has_the_scale_one_over_epsilon():
    # Laplace(b) has variance 2 b^2; with b = 1/epsilon = 2 the standard deviation is 2 * sqrt(2) = 2.83
    rng = np.random.default_rng(0)
    noise = laplace_counts(np.full(200_000, 1_000), epsilon=0.5, rng=rng) - 1_000
    assert abs(noise.std() - 2 * np.sqrt(2)) < 0.03
    assert abs(np.median(noise)) <= 0.5
    # the distribution is Laplace(0, 2) up to rounding (Kolmogorov-Smirnov on the unrounded draws)
    draws = np.random.default_rng(1).laplace(0, 2, 5_000)
    assert stats.kstest(draws, stats.laplace(scale=2).cdf).pvalue > 0.01


def test_noise_is_private_to_the_secret_and_repeatable_with_it():
    counts = np.array([500, 120, 40])
    same = [laplace_counts(counts, 1.0, release_rng("secret-a", "r1")) for _ in range(2)]
    other = laplace_counts(counts, 1.0, release_rng("secret-b", "r1"))
    assert np.array_equal(same[0], same[1])
    assert not np.array_equal(same[0], other)
    with pytest.raises(ValueError, match="secret"):
        release_rng("", "r1")
    with pytest.raises(ValueError, match="epsilon"):
        laplace_counts(counts, 0.0, np.random.default_rng(0))


def test_groups_below_k_are_blanked_and_flagged():
    profiles = pd.DataFrame({"segment_id": [1, 2, 3], "size": [10, 9, 250], "avg_spend": [5.0, 6.0, 7.0]})
    shown = suppress_small_groups(profiles, "size", 10, columns=["size", "avg_spend"])
    assert shown["is_suppressed"].tolist() == [False, True, False]  # 10 is shown: "smaller than k" is suppressed
    assert shown["size"].isna().tolist() == [False, True, False]
    assert shown["avg_spend"].isna().tolist() == [False, True, False]
    assert shown["segment_id"].tolist() == [1, 2, 3]


def test_the_release_is_recorded_and_the_counts_stay_near_the_truth(demo_warehouse, tmp_path):
    import shutil

    shutil.copytree(demo_warehouse.parent, tmp_path / "warehouse")
    database = tmp_path / "warehouse" / "segments.duckdb"
    run_config = {"ops": {"segment_counts_dp": {"config": {"epsilon": 0.5}}}}
    # only the release itself: its upstream is already in the copied warehouse
    from dagster import DagsterInstance

    from dagster_assets.definitions import defs
    from tests.pipeline import settings

    with settings(SEGMENTS_DATA_DIR=str(tmp_path), SEGMENTS_DUCKDB_PATH=str(database),
                  SEGMENTS_PRIVACY_SECRET="test-secret"):
        job = defs.resolve_implicit_global_asset_job_def()
        for _ in range(2):  # the same release twice: one ledger row
            assert job.execute_in_process(instance=DagsterInstance.ephemeral(), run_config=run_config,
                                          asset_selection=[*defs.resolve_assets_def("segment_counts_dp").keys]).success
    truth = dict(query(database, "select segment_id, count(*) from customer_segments group by 1"))
    released = dict(query(database, "select segment_id, customers_dp from segment_counts_dp"))
    assert released.keys() == truth.keys()
    # |Laplace(2)| exceeds 20 with probability exp(-10) per count
    assert all(abs(released[s] - truth[s]) <= 20 for s in truth)
    assert released != truth or len(truth) < 3  # noise was added
    [(release_id, epsilon, counts)] = query(database, "select release_id, epsilon, counts from privacy_releases")
    assert epsilon == 0.5 and counts == len(truth) and release_id.endswith("epsilon=0.5")


def test_without_a_secret_nothing_is_released(demo_warehouse):
    assert query(demo_warehouse, "select count(*) from segment_counts_dp") == [(0,)]
    assert query(demo_warehouse, "select count(*) from privacy_releases") == [(0,)]


SALT = "pepper-for-tests"
MIN_GROUP = 70


@pytest.fixture(scope="module")
def shop_with_pii(tmp_path_factory):
    """A small generated shop whose customers file carries e-mail, phone and name, through the whole graph, with
    groups under 70 customers suppressed."""
    import hashlib

    from python_models.datasets import generate_shop
    from tests.pipeline import materialize_all

    folder = tmp_path_factory.mktemp("pii_shop")
    generate_shop("demo", folder, n_customers=400, seed=11)
    customers = pd.read_parquet(folder / "customers.parquet").astype({"customer_id": str})
    number = customers["customer_id"].str.extract(r"(\d+)")[0]
    customers["email"] = " Person" + number + "@Example.COM "  # spaces and case: hashed trimmed, lower-cased
    customers["phone"] = "+44 7700 9" + number.str.zfill(5)
    customers["name"] = "Planted Person " + number
    customers.to_parquet(folder / "customers.parquet", index=False)
    database = tmp_path_factory.mktemp("pii_warehouse") / "segments.duckdb"
    assert materialize_all(folder, database, SEGMENTS_PII_SALT=SALT, SEGMENTS_MIN_GROUP_SIZE=str(MIN_GROUP)).success
    expected = {row.customer_id: hashlib.sha256((SALT + row.email.strip().lower()).encode()).hexdigest()
                for row in customers.itertuples()}
    return database, customers, expected


def test_personal_values_reach_no_table_or_view_in_the_clear(shop_with_pii):
    import duckdb

    database, customers, _ = shop_with_pii
    planted = [customers["email"].iloc[0].strip(), customers["phone"].iloc[0], customers["name"].iloc[0],
               "Example.COM", "Planted Person"]
    with duckdb.connect(str(database), read_only=True) as con:
        relations = con.sql("select table_schema, table_name, column_name from information_schema.columns "
                            "where data_type = 'VARCHAR'").fetchall()
        assert len({(s, t) for s, t, _ in relations}) > 40  # every schema: raw views, staging, marts, Python tables
        for schema, table, column in relations:
            for value in planted:
                found = con.execute(f'select count(*) from "{schema}"."{table}" '
                                    f'where contains(lower("{column}"), lower(?))', [value]).fetchall()[0][0]
                assert found == 0, f"{value!r} in the clear in {schema}.{table}.{column}"
        # the salt is stored nowhere either (not in a view's definition)
        assert con.sql(f"select count(*) from duckdb_views() where contains(sql, '{SALT}')").fetchall() == [(0,)]


def test_staging_holds_the_salted_hash_and_a_reader_without_the_salt_sees_none(shop_with_pii):
    database, _, expected = shop_with_pii
    hashed = dict(query(database, "select customer_id, email_hash from staging.stg_shop__customers"))
    assert hashed == expected  # sha256(salt || trimmed lower-cased address), computed here with hashlib
    assert query(database, "select count(*) from raw.customers where email is not null") == [(0,)]


def test_profiles_and_report_show_no_figures_of_a_segment_under_k(shop_with_pii):
    database = shop_with_pii[0]
    sizes = dict(query(database, "select segment_id, count(*) from customer_segments group by 1"))
    assert min(sizes.values()) < MIN_GROUP <= max(sizes.values())  # this shop has both kinds
    profiles = pd.DataFrame(query(database, "select segment_id, segment_name, size, share, top_features, "
                                            "is_suppressed from segment_profiles"),
                            columns=["segment_id", "segment_name", "size", "share", "top_features", "suppressed"])
    assert set(profiles["segment_id"]) == set(sizes)
    for row in profiles.itertuples():
        small = sizes[row.segment_id] < MIN_GROUP
        assert row.suppressed == small and row.segment_name
        if small:
            assert pd.isna(row.size) and pd.isna(row.share) and pd.isna(row.top_features)
        else:
            assert row.size == sizes[row.segment_id]
    lifts = query(database, "select count(*) from information_schema.columns where table_name = 'segment_profiles' "
                            "and column_name like 'lift_%'")[0][0]
    assert lifts > 0
    report = (database.parent / "reports" / "segments" / "segment_report.html").read_text()
    assert "too few customers to show them" in report

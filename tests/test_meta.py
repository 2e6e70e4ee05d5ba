"""Meta-learning on a generated shop whose personas shift region by region (config regions_holdout, never tuned
on), with five labels per persona for one held-out region, and bad label rows planted beside them.

One warehouse, built once: the graph up to the meta-learning step, the segmentation left out (for time), so the
prototypical network meta-trains on STUNT pseudo-label tasks alone. Truth is the generator's: the planted
personas (ground_truth/personas.csv) and the labels it wrote.
"""

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from dagster import AssetSelection, DagsterInstance

from python_models.datasets import generate_shop, shop_config
from python_models.deep.runtime import seeded
from python_models.meta.artifact import load_behaviour_model, load_segment_model
from python_models.meta.baselines import fit_global_behaviour
from python_models.meta.evaluation import K_SHOTS, behaviour_episode_scores, evaluate_assignment, interval
from python_models.meta.maml import BehaviourMetaLearner, BehaviourTask
from python_models.meta.pipeline import behaviour_tasks
from python_models.meta.protonet import PrototypicalNetwork
from python_models.meta.tasks import Task, sample_episode
from tests.conftest import built_once
from tests.pipeline import frame, query, settings

CUSTOMERS = 3000
CONFIG = shop_config("regions_holdout", n_customers=CUSTOMERS)
META_ASSETS = ["meta_segment_model", "meta_behavior_model", "adapted_segments", "meta_learning_metrics"]
# Bad rows planted beside the generator's labels, each bad in one way (see stg_shop__segment_label_rows).
BAD_LABELS = {"missing_customer_id": 1, "missing_label": 1, "unknown_customer": 1, "conflicting_label": 2,
              "duplicate_label": 1}


def _plant_bad_labels(folder: Path) -> None:
    path = folder / "segment_labels.csv"
    good = pd.read_csv(path)
    known = pd.read_csv(folder / "ground_truth" / "personas.csv")["customer_id"]
    unlabelled = known[~known.isin(good["customer_id"])].iloc[0]
    bad = pd.DataFrame([
        ["", "anything", "survey"],  # missing_customer_id
        [good["customer_id"].iloc[0], "", "survey"],  # missing_label (and no conflict: a blank is no label)
        ["C9999999", good["label"].iloc[0], "survey"],  # unknown_customer
        [unlabelled, good["label"].iloc[0], "analyst"],  # conflicting_label, twice
        [unlabelled, good["label"].iloc[-1], "analyst"],
        good.iloc[1].tolist(),  # duplicate_label: the second copy
    ], columns=good.columns)
    pd.concat([good, bad]).to_csv(path, index=False)


def _materialize_meta(data_dir: Path, database: Path):
    """The meta-learning assets, what they need and the labels' quarantine, without the segmentation (its table
    is then absent)."""
    from dagster_assets.definitions import defs

    graph = defs.resolve_asset_graph()
    segmentation = AssetSelection.assets("customer_segments").required_multi_asset_neighbors()
    wanted = AssetSelection.assets(*META_ASSETS, "rejected_segment_labels").upstream()
    keys = (wanted - segmentation).required_multi_asset_neighbors()
    with settings(SEGMENTS_DATA_DIR=str(data_dir), SEGMENTS_DUCKDB_PATH=str(database)):
        job = defs.resolve_implicit_global_asset_job_def()
        return job.execute_in_process(instance=DagsterInstance.ephemeral(),
                                      asset_selection=list(keys.resolve(graph)))


@pytest.fixture(scope="session")
def meta_warehouse(tmp_path_factory, worker_id):
    def build(folder: Path) -> None:
        generate_shop(CONFIG, folder / "data")
        _plant_bad_labels(folder / "data")
        assert _materialize_meta(folder / "data", folder / "segments.duckdb").success

    folder = built_once(tmp_path_factory, worker_id, "meta_warehouse", build)
    return folder / "data", folder / "segments.duckdb"


def _held_out(data_dir: Path) -> tuple[str, pd.Series, pd.DataFrame]:
    """The labelled region (from the files), every customer's planted persona, and the customers' regions."""
    personas = pd.read_csv(data_dir / "ground_truth" / "personas.csv").set_index("customer_id")["persona"]
    customers = pd.read_parquet(data_dir / "customers.parquet").set_index("customer_id")
    labels = pd.read_csv(data_dir / "segment_labels.csv", keep_default_na=False)
    labelled = labels[labels["customer_id"].isin(personas.index)]["customer_id"]
    return customers.loc[labelled, "region"].mode().iloc[0], personas, customers


def test_labels_file_staged_and_bad_rows_quarantined(meta_warehouse):
    data_dir, db = meta_warehouse
    rejected = dict(query(db, "select reject_reason, count(*) from main.rejected_segment_labels group by 1"))
    assert rejected == BAD_LABELS
    accepted = frame(db, "select * from staging.stg_shop__segment_labels")
    # the generator's labels: five per persona (the duplicate's first copy kept)
    assert len(accepted) == CONFIG.labels_per_persona * CONFIG.n_personas
    assert accepted["label"].value_counts().eq(CONFIG.labels_per_persona).all()
    personas = pd.read_csv(data_dir / "ground_truth" / "personas.csv").set_index("customer_id")["persona"]
    assert (personas.loc[accepted["customer_id"]].to_numpy() == accepted["label"].to_numpy()).all()


def test_adapted_segments_recover_the_held_out_regions_personas(meta_warehouse):
    data_dir, db = meta_warehouse
    region, personas, customers = _held_out(data_dir)
    adapted = frame(db, "select * from main.adapted_segments")
    assert set(adapted["task"]) == {region} and set(adapted["method"]) == {"protonet"}
    # every customer of the region who bought (customer_features' customers), and no one else
    in_region = set(customers.index[customers["region"] == region]) & set(personas.index)
    assert set(adapted["customer_id"]) == in_region
    assert adapted["confidence"].between(0, 1).all()
    accuracy = (adapted["label"].to_numpy() == personas.loc[adapted["customer_id"]].to_numpy()).mean()
    assert accuracy >= 0.8  # measured 0.915 here, 0.90 to 0.99 over 8 generated shops


@pytest.fixture(scope="module")
def planted_accuracy(meta_warehouse) -> pd.DataFrame:
    """The saved meta_segment_model and the baselines on the held-out region's planted personas: accuracy over
    100 episodes at 1 and 5 shots (method x k_shot)."""
    data_dir, db = meta_warehouse
    region, personas, _ = _held_out(data_dir)
    version = query(db, "select distinct model_version from main.adapted_segments")[0][0]
    protonet, global_model, scaler, columns = load_segment_model(db.parent / "models" / f"{version}.pt")
    features = frame(db, f"select * from main.customer_features where region = '{region}' order by customer_id")
    task = Task(region, scaler.transform(features[columns].to_numpy(np.float64)),
                personas.loc[features["customer_id"]].to_numpy())
    metrics, _ = evaluate_assignment(task, protonet, global_model, k_shots=(1, 5), episodes=100)
    return metrics[metrics["metric"] == "accuracy"].pivot(index="method", columns="k_shot", values="value")


def test_protonet_1_shot_beats_the_support_only_baselines_on_planted_personas(planted_accuracy):
    """STUNT's regime: a single labelled customer per persona, prototypes from the support alone like the baselines.
    Measured 0.866 against 0.829 here; on 2 of 8 generated shops the baselines win at 1 shot (README)."""
    one = planted_accuracy[1]
    assert one["protonet_inductive"] > max(one["knn_support"], one["logreg_support"]), one.round(3).to_dict()


@pytest.mark.xfail(strict=True, reason="not met on generated shops, transductive refinement or not: at 5 shots "
                   "protonet 0.922 (refined and inductive alike: the refinement's guard kept the support's means in "
                   "every episode) against logreg_support 0.952 and finetune 0.955 on this shop; on the 15,000-"
                   "customer regions_holdout shop 0.942 against 0.960 / 0.958, where +5 points would need 1.01 "
                   "(README, Meta-learning)")
def test_protonet_5_shot_beats_the_best_baseline_on_planted_personas(planted_accuracy):
    five = planted_accuracy[5]
    baselines = five.drop(["protonet", "protonet_inductive"])
    assert five["protonet"] >= baselines.max() + 0.05, five.round(3).to_dict()


def test_transductive_refinement_costs_nothing_at_5_shots_on_planted_personas(planted_accuracy):
    """Soft k-means over this region's customers drifts towards clusters that are not its personas: unguarded it
    scores 0.898 against the inductive 0.922 at 5 shots here. The guard (support customers must keep their labels)
    must bring it back within a point (measured: equal here; -0.004 to +0.003 over 8 generated shops)."""
    five = planted_accuracy[5]
    assert five["protonet"] >= five["protonet_inductive"] - 0.01, five.round(3).to_dict()


def _blobs(rng, n: int = 1000, k: int = 5, d: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """Customers around ``k`` random centres: the labels are the natural clusters, the case refinement is for."""
    centres = rng.normal(scale=2.0, size=(k, d))
    y = rng.integers(0, k, n)
    return (centres[y] + rng.normal(size=(n, d))).astype(np.float32), y


def test_transductive_refinement_finds_planted_clusters_from_one_label_each():
    """Where the labels are the customers' natural clusters (planted), one label per cluster and the unlabelled
    customers recover the clusters better than the label alone: measured +0.03 to +0.08 accuracy over 30 episodes
    for 5 seeds (+0.080 for this one), the paired 95% interval above zero for each."""
    rng = np.random.default_rng(0)
    net = PrototypicalNetwork(steps=200).fit([Task(f"past {i}", *_blobs(rng)) for i in range(3)])
    X, y = _blobs(rng)
    gains = []
    for _ in range(30):
        support, query = sample_episode(y, 1, rng)
        inductive = net.adapt(X[support], y[support]).predict(X[query])
        refined = net.adapt(X[support], y[support], X_unlabelled=X[query]).predict(X[query])
        gains.append((refined == y[query]).mean() - (inductive == y[query]).mean())
    mean, low, _ = interval(gains)
    assert mean >= 0.03 and low > 0, (mean, low)


def test_metrics_cover_every_method_and_shot_with_intervals(meta_warehouse):
    data_dir, db = meta_warehouse
    region, _, _ = _held_out(data_dir)
    m = frame(db, "select * from main.meta_learning_metrics")
    assert (m["episodes"] >= 100).all()
    behaviour = m[m["task"] == f"behaviour:{region}"]
    assert set(behaviour["method"]) == {"maml", "reptile", "global", "finetune", "scratch", "knn_support",
                                        "logreg_support"}
    assert set(behaviour["k_shot"]) == {1, 5, 10, 50} and set(behaviour["metric"]) == {"auc", "mae"}
    # five labels per persona: only 1-shot leaves query customers in every class
    labels = m[m["task"] == f"labels:{region}"]
    assert set(labels["k_shot"]) == {1}
    assert set(labels["method"]) == {"protonet", "protonet_inductive", "knn_support", "logreg_support", "global",
                                     "finetune"}
    # the transductive protonet says how often its refined prototypes passed the guard
    shares = labels.loc[labels["metric"] == "refined_share", ["method", "value"]]
    assert shares["method"].tolist() == ["protonet"] and shares["value"].between(0, 1).all()


@pytest.fixture(scope="module")
def behaviour_scores(meta_warehouse) -> tuple[dict, pd.DataFrame]:
    """Every episode's AUC and MAE per method on the held-out region's behaviour tasks, recomputed from the saved
    meta_behavior_model as the asset does, and the asset's meta_learning_metrics rows for that family."""
    data_dir, db = meta_warehouse
    region, _, _ = _held_out(data_dir)
    name = f"behaviour:{region}"
    table = frame(db, f"select * from main.meta_learning_metrics where task = '{name}'")
    learners, global_model, scaler, columns = load_behaviour_model(
        db.parent / "models" / f"{table['model_version'].iloc[0]}.pt")
    examples = frame(db, "select * exclude (cutoff_date, customer_id) from main.meta_behavior_examples "
                         "order by period, customer_id")
    tasks = behaviour_tasks(examples, scaler.transform(examples[columns].to_numpy(np.float64)), [region], "region")
    with seeded(0):  # as learn_behaviour evaluates: the same threads, the same sums
        scores, _ = behaviour_episode_scores(tasks[region], learners, global_model, name, K_SHOTS)
    return scores, table


def test_behaviour_episode_scores_are_the_tables(behaviour_scores):
    scores, table = behaviour_scores
    for row in table.itertuples():
        episodes = np.asarray(scores[row.k_shot][(row.method, row.metric)])
        assert np.isclose(episodes.mean(), row.value), row
        # the table's 95% interval is scipy's normal interval of the mean over those episodes (a point where every
        # episode scores the same, e.g. k-NN's AUC of 0.5 from one customer per outcome)
        sem = stats.sem(episodes)
        low, high = stats.norm.interval(0.95, loc=episodes.mean(), scale=sem) if sem else (episodes.mean(),) * 2
        assert np.allclose([row.ci_low, row.ci_high], [low, high], rtol=1e-3), row


def _maml_gain(scores: dict, k: int, other: str) -> tuple[float, float, float]:
    """MAML's AUC minus ``other``'s, paired over the same episodes (the methods' own intervals are wide: the
    region's cutoffs differ in AUC): mean and 95% interval."""
    return interval(np.subtract(scores[k][("maml", "auc")], scores[k][(other, "auc")]))


def test_adapted_behaviour_predictor_beats_scratch_on_auc(behaviour_scores):
    """Measured +0.07 to +0.24 on this shop (lowest lower bound +0.066, at 50 shots); +0.04 to +0.26 on 8
    generated shops and 3 training seeds."""
    scores, _ = behaviour_scores
    for k in K_SHOTS:
        assert _maml_gain(scores, k, "scratch")[1] > 0, (k, _maml_gain(scores, k, "scratch"))


def test_adapted_behaviour_predictor_stays_near_the_pooled_model(behaviour_scores):
    """From 10 shots the adaptation costs at most a point of AUC against the pooled model where the region has
    nothing of its own to adapt to (this shop): measured -0.004 at 10 shots and -0.002 at 50 here, -0.004 at worst
    over 8 generated shops and 3 training seeds. A diverging inner loop (learning rate 0.1, not 0.03) cost 0.26
    and 0.43 on two development shops."""
    scores, _ = behaviour_scores
    for k in (10, 50):
        assert _maml_gain(scores, k, "global")[0] > -0.01, (k, _maml_gain(scores, k, "global"))


@pytest.mark.xfail(strict=True, reason="not on this shop: MAML minus the pooled model's AUC, paired over 100 "
                   "episodes, is -0.004 [-0.005, -0.003] at 10 shots and -0.002 [-0.004, -0.001] at 50 (training "
                   "seed 0, the asset's; +0.006 and +0.001 at 10 shots for seeds 1 and 2). East's behaviour here "
                   "is the pooled model's: a network trained on all of East's customers at its other cutoffs "
                   "and the training regions ranks no better than it. Where a region's behaviour departs, MAML "
                   "gains +0.07 to +0.16 (README, Meta-learning; test_maml_beats_the_pooled_model_where_tasks_"
                   "differ)")
def test_adapted_behaviour_predictor_beats_the_pooled_model_on_auc(behaviour_scores):
    scores, _ = behaviour_scores
    for k in (10, 50):
        assert _maml_gain(scores, k, "global")[1] > 0, (k, _maml_gain(scores, k, "global"))


def _taste_task(rng, name: str, sign: int, n: int = 600, d: int = 6) -> BehaviourTask:
    """Customers who buy on ``x0`` everywhere and on ``x1`` with a sign of the task's own (a region's taste)."""
    X = rng.normal(size=(n, d)).astype(np.float32)
    bought = (X[:, 0] + 1.5 * sign * X[:, 1] + 0.5 * rng.normal(size=n) > 0).astype(np.float32)
    return BehaviourTask(name, X, bought, bought * np.exp(rng.normal(3, 0.5, n)))


def test_maml_beats_the_pooled_model_where_tasks_differ():
    """Planted: half the past tasks buy on +x1, half on -x1, so the pooled model cannot know a new task's sign
    and a few of its customers tell it. Measured over 5 seeds at 5 and 10 shots: MAML +0.10 to +0.24 AUC over the
    pooled model, and +0.01 to +0.05 over fine-tuning it with the same steps (what meta-training adds), each
    paired interval above zero (+0.215 and +0.045 at 5 shots for this seed)."""
    rng = np.random.default_rng(0)
    past = [_taste_task(rng, f"past {i}", 1 if i % 2 else -1) for i in range(8)]
    pooled = fit_global_behaviour(past, 64, random_state=0)
    learner = BehaviourMetaLearner(meta_steps=100).fit(past, init=pooled[1])
    scores, _ = behaviour_episode_scores([_taste_task(rng, "new", 1)], {"maml": learner}, pooled, "new", (5, 10))
    for k in (5, 10):
        over_pooled, over_finetune = _maml_gain(scores, k, "global"), _maml_gain(scores, k, "finetune")
        assert over_pooled[0] >= 0.1 and over_pooled[1] > 0 and over_finetune[1] > 0, (k, over_pooled,
                                                                                       over_finetune)


def test_shop_without_labels_skips_with_the_reason(demo_warehouse, tmp_path):
    """The demo shop has no segment_labels.csv: the step skips, its tables are there and empty."""
    from dagster_assets.definitions import defs

    db = tmp_path / "segments.duckdb"
    shutil.copy(demo_warehouse, db)
    with settings(SEGMENTS_DUCKDB_PATH=str(db)):
        job = defs.resolve_implicit_global_asset_job_def()
        result = job.execute_in_process(instance=DagsterInstance.ephemeral(),
                                        asset_selection=[k for k in AssetSelection.assets(*META_ASSETS)
                                                         .resolve(defs.resolve_asset_graph())])
    assert result.success
    reasons = {m.asset_key.path[-1]: m.metadata["skipped"].value for m in result.asset_materializations_for_node(
        "meta_learning")}
    assert set(reasons) == set(META_ASSETS)
    assert all("no segment labels" in r for r in reasons.values())
    for table in ("adapted_segments", "meta_learning_metrics"):
        assert query(db, f"select count(*) from main.{table}") == [(0,)]

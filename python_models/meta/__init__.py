"""Meta-learning (PyTorch): segments and behaviour of a new market or period, learned from a few labelled customers.

Pure Python (numpy / torch / scikit-learn), no orchestration imports::

    from python_models.meta import PrototypicalNetwork, BehaviourMetaLearner
    net = PrototypicalNetwork().fit(tasks)                 # tasks: list of Task (customers, labels)
    predictor = net.adapt(X_support, y_support)            # a new task from its few labelled customers
    predictor = net.adapt(X_support, y_support, X_unlabelled=X)  # transductive: prototypes refined over X
    labels, confidence = predictor.predict(X), predictor.predict_proba(X).max(axis=1)

    learner = BehaviourMetaLearner("fomaml").fit(behaviour_tasks)
    predictor = learner.adapt(X_support, bought, spend)    # a few gradient steps on the support set
    predictor.predict_proba(X), predictor.predict_spend(X)

Building blocks: :func:`stunt_tasks` (pseudo-label tasks from unlabelled customers), :class:`FeatureScaler`,
the baselines (:class:`GlobalClassifier`, :mod:`.linear`), the episodic evaluation (:func:`evaluate_assignment`,
:func:`evaluate_behaviour`), the versioned artifacts (:func:`save_artifact`, :func:`load_segment_model`,
:func:`load_behaviour_model`) and what the Dagster step calls (:func:`learn_segments`, :func:`learn_behaviour`).
"""

from .artifact import ARTIFACT_VERSION, load_behaviour_model, load_segment_model, save_artifact
from .baselines import GlobalClassifier, fit_global_behaviour
from .evaluation import K_SHOTS, evaluate_assignment, evaluate_behaviour
from .features import FeatureScaler
from .maml import ALGORITHMS, BehaviourMetaLearner, BehaviourPredictor, BehaviourTask
from .pipeline import MetaSettings, learn_behaviour, learn_segments
from .protonet import PrototypePredictor, PrototypicalNetwork, refine_prototypes
from .tasks import Task, sample_episode, stunt_tasks

__all__ = [
    "ALGORITHMS", "ARTIFACT_VERSION", "K_SHOTS", "BehaviourMetaLearner", "BehaviourPredictor", "BehaviourTask",
    "FeatureScaler", "GlobalClassifier", "MetaSettings", "PrototypePredictor", "PrototypicalNetwork", "Task",
    "evaluate_assignment", "evaluate_behaviour", "fit_global_behaviour", "learn_behaviour", "learn_segments",
    "load_behaviour_model", "load_segment_model", "refine_prototypes", "sample_episode", "save_artifact",
    "stunt_tasks",
]

"""Meta-learning (PyTorch): segments and behaviour of a new market or period, learned from a few labelled customers.

Pure Python (numpy / torch / scikit-learn), no orchestration imports::

    from python_models.meta import PrototypicalNetwork, BehaviourMetaLearner
    net = PrototypicalNetwork().fit(tasks)                 # tasks: list of Task (customers, labels)
    predictor = net.adapt(X_support, y_support)            # a new task from its few labelled customers
    labels, confidence = predictor.predict(X), predictor.predict_proba(X).max(axis=1)

    learner = BehaviourMetaLearner("fomaml").fit(behaviour_tasks)
    predictor = learner.adapt(X_support, bought, spend)    # a few gradient steps on the support set
    predictor.predict_proba(X), predictor.predict_spend(X)

Building blocks: :func:`stunt_tasks` (pseudo-label tasks from unlabelled customers), :class:`FeatureScaler`,
the episodic evaluation against baselines (:func:`evaluate_assignment`, :func:`evaluate_behaviour`) and the
versioned artifacts (:class:`MetaArtifactStore`).
"""

from .features import FeatureScaler
from .maml import ALGORITHMS, BehaviourMetaLearner, BehaviourPredictor, BehaviourTask
from .protonet import PrototypePredictor, PrototypicalNetwork
from .tasks import Task, sample_episode, stunt_tasks

__all__ = [
    "ALGORITHMS", "BehaviourMetaLearner", "BehaviourPredictor", "BehaviourTask", "FeatureScaler",
    "PrototypePredictor", "PrototypicalNetwork", "Task", "sample_episode", "stunt_tasks",
]

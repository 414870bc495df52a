"""Metrics: results on the same arrays as keras.metrics, 'accuracy' resolution as compile does it, configs."""
from __future__ import annotations

import zlib

import numpy as np
import pytest

from helpers import tensorflow_or_skip

from convlite import metrics as M

N = 37  # odd batch sizes: nothing may depend on even splits


def _binary(rng, shape=(N, 1)):
    y_true = (rng.random(shape) > 0.6).astype(np.float32)
    y_pred = rng.random(shape).astype(np.float32)
    y_pred.flat[::7] = 0.5  # exactly on the threshold: counts as negative (strict >)
    return y_true, y_pred


def _probs(rng, n=N, c=6):
    logits = rng.normal(size=(n, c))
    p = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
    return p.astype(np.float32)


def _batches(rng, kind):
    """Two update_state batches (y_true, y_pred, sample_weight) for each input kind."""
    out = []
    for i in range(2):
        w = None if i == 0 else rng.random(N).astype(np.float32)
        if kind == "binary":
            out.append((*_binary(rng), w))
        elif kind == "binary_1d":
            out.append((*_binary(rng, (N,)), w))
        elif kind == "onehot":
            p = _probs(rng)
            out.append((np.eye(6, dtype=np.float32)[rng.integers(0, 6, N)], p, w))
        elif kind == "sparse":
            out.append((rng.integers(0, 6, N), _probs(rng), w))
        elif kind == "sparse_col":
            out.append((rng.integers(0, 6, (N, 1)).astype(np.float32), _probs(rng), None if w is None else w[:, None]))
        elif kind == "regression":
            out.append((rng.normal(size=(N, 3)).astype(np.float32), rng.normal(size=(N, 3)).astype(np.float32), w))
        elif kind == "regression_1d":
            out.append((rng.normal(size=N).astype(np.float32), rng.normal(size=N).astype(np.float32), None))
    return out


# (factory taking the module, input kind)
CASES = {
    "binary_accuracy": (lambda m: m.BinaryAccuracy(), "binary"),
    "binary_accuracy_1d_threshold": (lambda m: m.BinaryAccuracy(threshold=0.3), "binary_1d"),
    "categorical_accuracy": (lambda m: m.CategoricalAccuracy(), "onehot"),
    "sparse_categorical_accuracy": (lambda m: m.SparseCategoricalAccuracy(), "sparse"),
    "sparse_categorical_accuracy_col": (lambda m: m.SparseCategoricalAccuracy(), "sparse_col"),
    "top_k": (lambda m: m.TopKCategoricalAccuracy(k=2), "onehot"),
    "sparse_top_k": (lambda m: m.SparseTopKCategoricalAccuracy(k=3), "sparse"),
    "mse": (lambda m: m.MeanSquaredError(), "regression"),
    "mae": (lambda m: m.MeanAbsoluteError(), "regression"),
    "mse_1d": (lambda m: m.MeanSquaredError(), "regression_1d"),  # Keras counts a 1-D batch as one sample
    "precision": (lambda m: m.Precision(), "binary"),
    "recall": (lambda m: m.Recall(), "binary_1d"),
    "precision_thresholds": (lambda m: m.Precision(thresholds=[0.2, 0.5, 0.7]), "binary"),
    "recall_even_thresholds": (lambda m: m.Recall(thresholds=[0.0, 0.25, 0.5, 0.75, 1.0]), "binary"),
    "precision_top_k_class": (lambda m: m.Precision(top_k=2, class_id=3), "onehot"),
    "recall_class": (lambda m: m.Recall(class_id=1, thresholds=0.3), "onehot"),
    "auc": (lambda m: m.AUC(), "binary"),
    "auc_1d_few_thresholds": (lambda m: m.AUC(num_thresholds=7), "binary_1d"),
    "auc_pr": (lambda m: m.AUC(curve="PR"), "binary"),
    "auc_pr_minoring": (lambda m: m.AUC(curve="PR", summation_method="minoring"), "binary"),
    "auc_roc_majoring": (lambda m: m.AUC(summation_method="majoring"), "binary"),
    "auc_thresholds": (lambda m: m.AUC(thresholds=[0.1, 0.4, 0.45, 0.9]), "binary"),
    "auc_logits": (lambda m: m.AUC(from_logits=True), "regression_1d"),
}


def _run(metric, batches):
    results = []
    for y_true, y_pred, w in batches:
        metric.update_state(y_true, y_pred, sample_weight=w)
        results.append(np.asarray(metric.result(), dtype=np.float64))
    return results


# --- direct checks ------------------------------------------------------------------------------------------------

def test_accuracies_by_hand():
    acc = M.BinaryAccuracy()
    acc.update_state([[1], [0], [1], [0]], [[0.9], [0.5], [0.2], [0.51]])
    assert acc.result() == pytest.approx(0.5) and isinstance(acc.result(), np.float32)
    acc.update_state([[1]], [[0.7]], sample_weight=[3.0])
    assert acc.result() == pytest.approx((2 + 3) / 7)
    acc.reset_state()
    assert acc.result() == 0.0
    cat = M.CategoricalAccuracy()
    cat.update_state([[0, 1, 0], [1, 0, 0]], [[0.2, 0.5, 0.3], [0.1, 0.8, 0.1]])
    assert cat.result() == pytest.approx(0.5)
    sparse = M.SparseCategoricalAccuracy()
    sparse.update_state([1, 2], [[0.2, 0.5, 0.3], [0.1, 0.8, 0.1]])
    assert sparse.result() == pytest.approx(0.5)
    top = M.SparseTopKCategoricalAccuracy(k=2)
    top.update_state([2, 0], [[0.2, 0.5, 0.3], [0.05, 0.8, 0.15]])
    assert top.result() == pytest.approx(0.5)


def test_precision_recall_auc_by_hand():
    y_true = np.array([1, 1, 0, 0, 1, 0], np.float32)
    y_pred = np.array([0.9, 0.4, 0.6, 0.1, 0.7, 0.2], np.float32)
    p, r = M.Precision(), M.Recall()
    p.update_state(y_true, y_pred)
    r.update_state(y_true, y_pred)
    assert p.result() == pytest.approx(2 / 3) and r.result() == pytest.approx(2 / 3)
    auc = M.AUC(num_thresholds=1000)
    auc.update_state(y_true, y_pred)
    # exact ROC AUC: positive/negative pairs ranked correctly = 8 of 9
    assert auc.result() == pytest.approx(8 / 9, abs=2e-3)
    assert M.Precision().result() == 0.0  # no division by zero


def test_mean_with_weights():
    mean = M.Mean()
    mean.update_state([1.0, 2.0, 3.0])
    mean.update_state([10.0], sample_weight=[0.0])
    assert mean.result() == pytest.approx(2.0)
    mean.update_state(np.ones((2, 3)) * 4, sample_weight=[1.0, 1.0])
    assert mean.result() == pytest.approx((6 + 8) / 5)


def test_default_names_are_unique_like_keras():
    first, second = M.Precision(), M.Precision()
    assert first.name != second.name and second.name.startswith("precision")
    assert M.AUC(name="my_auc").name == "my_auc"
    assert M.BinaryAccuracy().name == "binary_accuracy"


@pytest.mark.parametrize("t_shape,p_shape,expected", [
    ((8, 1), (8, 1), M.BinaryAccuracy), ((8,), (8, 1), M.BinaryAccuracy),
    ((8,), (8, 5), M.SparseCategoricalAccuracy), ((8, 1), (8, 5), M.SparseCategoricalAccuracy),
    ((8, 5), (8, 5), M.CategoricalAccuracy), ((8, 4, 1), (8, 4, 3), M.SparseCategoricalAccuracy),
])
def test_accuracy_resolution_by_shapes(t_shape, p_shape, expected):
    for name in ("accuracy", "acc", "Accuracy"):
        metric = M.get(name, loss="mse", y_true=np.zeros(t_shape), y_pred=p_shape)
        assert type(metric) is expected and metric.name == name


def test_accuracy_resolution_by_loss():
    assert type(M.get("accuracy", loss="binary_crossentropy")) is M.BinaryAccuracy
    assert type(M.get("accuracy", loss="categorical_crossentropy")) is M.CategoricalAccuracy
    assert type(M.get("acc", loss="sparse_categorical_crossentropy")) is M.SparseCategoricalAccuracy

    class SparseCategoricalCrossentropy:  # a loss object: its class name is enough
        pass

    assert type(M.get("accuracy", loss=SparseCategoricalCrossentropy())) is M.SparseCategoricalAccuracy
    with pytest.raises(ValueError, match="Cannot resolve metric 'accuracy'.*Received: loss='mse'"):
        M.get("accuracy", loss="mse")


def test_get_names_instances_and_errors():
    assert type(M.get("mse")) is M.MeanSquaredError and M.get("mse").name == "mse"
    assert M.get("AUC").name == "AUC" and type(M.get("auc")) is M.AUC
    assert type(M.get("precision")) is M.Precision and type(M.get("Recall")) is M.Recall
    inst = M.TopKCategoricalAccuracy(k=3)
    assert M.get(inst) is inst
    assert type(M.get(M.Recall)) is M.Recall
    restored = M.get({"class_name": "BinaryAccuracy", "config": {"name": "b", "threshold": 0.7, "dtype": None}})
    assert restored.threshold == 0.7 and restored.name == "b"
    wrapped = M.get(lambda y_true, y_pred: np.abs(y_true - y_pred))
    wrapped.update_state(np.array([1.0, 2.0]), np.array([0.0, 0.0]))
    assert wrapped.result() == pytest.approx(1.5)
    with pytest.raises(ValueError, match="Could not interpret metric identifier: 'acuracy'.*'accuracy'"):
        M.get("acuracy")
    with pytest.raises(ValueError, match="Expected metric"):
        M.get(None)


def test_bad_arguments():
    with pytest.raises(ValueError, match="num_thresholds"):
        M.AUC(num_thresholds=1)
    with pytest.raises(ValueError, match="curve"):
        M.AUC(curve="XY")
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        M.Precision(thresholds=[1.5])
    with pytest.raises(ValueError, match="class_id"):
        M.Recall(class_id=0).update_state(np.ones(3), np.ones(3))


# --- against Keras ------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def keras():
    tensorflow_or_skip()
    import keras

    return keras


@pytest.mark.tensorflow
@pytest.mark.parametrize("case", sorted(CASES))
def test_results_match_keras(keras, case):
    factory, kind = CASES[case]
    batches = _batches(np.random.default_rng(zlib.crc32(case.encode())), kind)  # stable across runs
    ours = _run(factory(M), batches)
    theirs = _run(factory(keras.metrics), batches)
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a, b, rtol=2e-6, atol=2e-7)


@pytest.mark.tensorflow
def test_mean_matches_keras_for_weight_ranks(keras):
    rng = np.random.default_rng(5)
    values = rng.normal(size=(5, 4, 3)).astype(np.float32)
    for weights in (None, rng.random(5), rng.random((5, 1)), rng.random((5, 4)), rng.random((5, 4, 3))):
        ours, theirs = M.Mean(), keras.metrics.Mean()
        ours.update_state(values, sample_weight=weights)
        theirs.update_state(values, sample_weight=weights)
        np.testing.assert_allclose(ours.result(), np.asarray(theirs.result()), rtol=2e-6)


@pytest.mark.tensorflow
@pytest.mark.parametrize("name", ["accuracy", "acc", "mse", "mae", "AUC", "auc", "precision", "Recall",
                                  "binary_accuracy", "categorical_accuracy", "sparse_categorical_accuracy",
                                  "top_k_categorical_accuracy", "MeanSquaredError"])
@pytest.mark.parametrize("t_shape,p_shape", [((8, 1), (8, 1)), ((8,), (8, 5)), ((8, 5), (8, 5)), ((8, 1), (8, 5))])
def test_compile_resolution_matches_keras(keras, name, t_shape, p_shape):
    from keras.src.trainers.compile_utils import get_metric

    theirs = get_metric(name, np.zeros(t_shape), np.zeros(p_shape))
    ours = M.get(name, y_true=np.zeros(t_shape), y_pred=np.zeros(p_shape))
    assert type(ours).__name__ == type(theirs).__name__
    assert ours.name == theirs.name
    assert ours._direction == theirs._direction


@pytest.mark.tensorflow
@pytest.mark.parametrize("factory", [lambda m: m.BinaryAccuracy(threshold=0.3), lambda m: m.CategoricalAccuracy(),
                                     lambda m: m.TopKCategoricalAccuracy(k=2), lambda m: m.MeanSquaredError(),
                                     lambda m: m.Precision(name="p", thresholds=[0.4]), lambda m: m.AUC(name="a"),
                                     lambda m: m.AUC(name="a", thresholds=[0.2, 0.6], curve="PR"),
                                     lambda m: m.Mean(name="m")])
def test_configs_match_keras(keras, factory):
    assert factory(M).get_config() == factory(keras.metrics).get_config()

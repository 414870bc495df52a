"""The regression, probabilistic, F-score and confusion-count metrics against Keras itself: the same arrays through
two update_state calls, with and without sample weights; their names, configs and string identifiers; and their use
in compile / fit."""
import numpy as np
import pytest

import convlite
from convlite import layers, metrics

from helpers import tensorflow_or_skip


def _keras():
    tensorflow_or_skip()
    import keras

    return keras


def _data(kind, rng, n=23, k=4):
    """(y_true, y_pred) batches of the kind each metric expects."""
    if kind == "regression":
        return rng.standard_normal((n, k)), rng.standard_normal((n, k))
    if kind == "positive":
        return rng.random((n, k)) * 3, rng.random((n, k)) * 3 + 0.01
    if kind == "binary":
        return (rng.random((n, k)) > 0.5).astype(float), rng.random((n, k))
    if kind == "logits":
        return (rng.random((n, k)) > 0.5).astype(float), rng.standard_normal((n, k)) * 3
    if kind == "onehot":
        probs = rng.random((n, k)) + 0.05
        return np.eye(k)[rng.integers(0, k, n)], probs / probs.sum(axis=1, keepdims=True)
    if kind == "sparse":
        probs = rng.random((n, k)) + 0.05
        return rng.integers(0, k, (n, 1)).astype(float), probs / probs.sum(axis=1, keepdims=True)
    if kind == "distribution":
        a, b = rng.random((n, k)), rng.random((n, k))
        return a / a.sum(axis=1, keepdims=True), b / b.sum(axis=1, keepdims=True)
    raise AssertionError(kind)


CASES = [
    ("RootMeanSquaredError", {}, "regression"),
    ("MeanAbsolutePercentageError", {}, "regression"),
    ("MeanSquaredLogarithmicError", {}, "positive"),
    ("LogCoshError", {}, "regression"),
    ("CosineSimilarity", {}, "regression"),
    ("KLDivergence", {}, "distribution"),
    ("Poisson", {}, "positive"),
    ("Hinge", {}, "binary"),
    ("SquaredHinge", {}, "binary"),
    ("CategoricalHinge", {}, "onehot"),
    ("BinaryCrossentropy", {}, "binary"),
    ("BinaryCrossentropy", {"from_logits": True, "label_smoothing": 0.1}, "logits"),
    ("CategoricalCrossentropy", {}, "onehot"),
    ("CategoricalCrossentropy", {"from_logits": True, "label_smoothing": 0.2}, "onehot"),
    ("SparseCategoricalCrossentropy", {}, "sparse"),
    ("SparseCategoricalCrossentropy", {"from_logits": True}, "sparse"),
    ("F1Score", {}, "onehot"),
    ("F1Score", {"average": "macro"}, "onehot"),
    ("F1Score", {"average": "micro", "threshold": 0.3}, "binary"),
    ("FBetaScore", {"average": "weighted", "beta": 2.0}, "onehot"),
    ("FBetaScore", {"beta": 0.5, "threshold": 0.5}, "binary"),
    ("R2Score", {}, "regression"),
    ("R2Score", {"class_aggregation": "variance_weighted_average", "num_regressors": 2}, "regression"),
    ("R2Score", {"class_aggregation": None}, "regression"),
    ("TruePositives", {}, "binary"),
    ("FalsePositives", {"thresholds": [0.2, 0.7]}, "binary"),
    ("TrueNegatives", {}, "binary"),
    ("FalseNegatives", {"thresholds": 0.4}, "binary"),
]


@pytest.mark.tensorflow
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("name, kwargs, kind", CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_metric_matches_keras(rng, name, kwargs, kind, weighted):
    keras = _keras()
    theirs, ours = getattr(keras.metrics, name)(**kwargs), getattr(metrics, name)(**kwargs)
    for _ in range(2):
        y_true, y_pred = _data(kind, rng)
        y_true, y_pred = y_true.astype(np.float32), y_pred.astype(np.float32)
        sw = (rng.random(len(y_true)) + 0.2).astype(np.float32) if weighted else None
        theirs.update_state(y_true, y_pred, sample_weight=sw)
        ours.update_state(y_true, y_pred, sample_weight=sw)
    want = np.asarray(theirs.result())
    got = ours.result()
    assert np.shape(got) == want.shape
    np.testing.assert_allclose(got, want, rtol=2e-5, atol=2e-6)
    assert ours.name == theirs.name
    config = {k: v for k, v in theirs.get_config().items() if k != "dtype"}
    assert {k: v for k, v in ours.get_config().items() if k != "dtype"} == config
    ours.reset_state()
    ours.update_state(y_true, y_pred, sample_weight=sw)
    theirs.reset_state()
    theirs.update_state(y_true, y_pred, sample_weight=sw)
    np.testing.assert_allclose(ours.result(), np.asarray(theirs.result()), rtol=2e-5, atol=2e-6)


@pytest.mark.parametrize("identifier, cls", [
    ("f1_score", metrics.F1Score), ("r2_score", metrics.R2Score), ("mape", metrics.MeanAbsolutePercentageError),
    ("MSLE", metrics.MeanSquaredLogarithmicError), ("root_mean_squared_error", metrics.RootMeanSquaredError),
    ("binary_crossentropy", metrics.BinaryCrossentropy), ("log_cosh_error", metrics.LogCoshError),
    ("true_positives", metrics.TruePositives), ("kl_divergence", metrics.KLDivergence),
])
def test_string_identifiers_resolve_as_in_keras(identifier, cls):
    metric = metrics.get(identifier)
    assert type(metric) is cls and metric.name == identifier


@pytest.mark.parametrize("make, message", [
    (lambda: metrics.FBetaScore(average="samples"), "average=samples"),
    (lambda: metrics.FBetaScore(beta=1), "beta=1 of type"),
    (lambda: metrics.FBetaScore(beta=-0.5), "beta=-0.5"),
    (lambda: metrics.F1Score(threshold=1.5), "threshold=1.5"),
    (lambda: metrics.R2Score(class_aggregation="mean"), "class_aggregation=mean"),
    (lambda: metrics.R2Score(num_regressors=-1), "num_regressors=-1"),
    (lambda: metrics.F1Score().update_state(np.zeros(3), np.zeros(3)), "expects 2D inputs"),
    (lambda: metrics.BinaryCrossentropy(bogus=1), "bogus"),
    (lambda: metrics.SparseCategoricalCrossentropy(ignore_class=0), "ignore_class=0"),
])
def test_bad_arguments_are_named(make, message):
    with pytest.raises((ValueError, TypeError), match=message):
        make()


def test_fit_reports_the_new_metrics_by_name(rng):
    x = rng.standard_normal((40, 6, 2)).astype(np.float32)
    y = np.eye(3)[rng.integers(0, 3, 40)].astype(np.float32)
    model = convlite.Sequential([layers.Input((6, 2)), layers.Conv1D(4, 3, activation="relu"), layers.Flatten(),
                                 layers.Dense(3, activation="softmax")])
    model.compile("adam", "categorical_crossentropy",
                  metrics=[metrics.F1Score(average="macro"), "mape", metrics.RootMeanSquaredError(),
                           "categorical_crossentropy"])
    history = model.fit(x, y, epochs=2, batch_size=16, validation_split=0.25, verbose=0).history
    assert {"f1_score", "mape", "root_mean_squared_error", "categorical_crossentropy",
            "val_f1_score"} <= set(history)
    pred = model.predict(x[30:], verbose=0)
    want = metrics.F1Score(average="macro")
    want.update_state(y[30:], pred)
    np.testing.assert_allclose(history["val_f1_score"][-1], want.result(), rtol=1e-6)
    # the loss and the metric of the same name agree (the loss as computed in the C++ step)
    np.testing.assert_allclose(history["val_categorical_crossentropy"], history["val_loss"], rtol=1e-5)


def test_per_class_results_stay_arrays_in_the_logs(rng):
    # F1Score's default average=None gives one score per class: fit and evaluate log the array, as Keras does.
    x = rng.standard_normal((30, 5)).astype(np.float32)
    y = np.eye(3)[np.arange(30) % 3].astype(np.float32)
    model = convlite.Sequential([layers.Input((5,)), layers.Dense(3, activation="softmax")])
    model.compile("sgd", "categorical_crossentropy", metrics=[metrics.F1Score()])
    history = model.fit(x, y, epochs=2, batch_size=30, verbose=1).history
    assert len(history["f1_score"]) == 2 and history["f1_score"][-1].shape == (3,)
    logs = model.evaluate(x, y, verbose=0, return_dict=True)
    want = metrics.F1Score()
    want.update_state(y, model.predict(x, verbose=0))
    np.testing.assert_allclose(logs["f1_score"], want.result(), rtol=1e-6)

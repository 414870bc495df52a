"""Keras 3's rule for weights in metrics, checked without TensorFlow (tests/parity/test_fit.py compares with Keras):
`metrics=` ignore sample and class weights, `weighted_metrics=` apply them, and a name used by both becomes
weighted_<name>."""
from __future__ import annotations

import numpy as np

import convlite


def _model():
    layers = convlite.layers
    model = convlite.Sequential([layers.Input((3,)), layers.Dense(2, activation="softmax")])
    return model


def _data():
    rng = np.random.default_rng(5)
    x = rng.standard_normal((40, 3)).astype(np.float32)
    y = (rng.random(40) > 0.5).astype(np.int64)
    weights = rng.random(40).astype(np.float32) * 3
    return x, y, weights


def test_metrics_ignore_weights_and_weighted_metrics_use_them():
    x, y, weights = _data()
    model = _model()
    model.compile("sgd", "sparse_categorical_crossentropy", metrics=["accuracy"], weighted_metrics=["accuracy"])
    logs = model.evaluate(x, y, sample_weight=weights, batch_size=16, verbose=0, return_dict=True)
    hit = (model.predict(x, verbose=0).argmax(axis=1) == y).astype(np.float64)
    assert np.isclose(logs["accuracy"], hit.mean(), atol=1e-6)
    assert np.isclose(logs["weighted_accuracy"], (hit * weights).sum() / weights.sum(), atol=1e-6)


def test_compile_leaves_the_users_metric_objects_alone():
    metric = convlite.metrics.SparseCategoricalAccuracy()
    model = _model()
    for _ in range(2):  # compiling twice must not stack renames
        model.compile("sgd", "sparse_categorical_crossentropy", metrics=[metric], weighted_metrics=[metric])
    assert metric.name == "sparse_categorical_accuracy" and not getattr(metric, "_weighted", False)
    x, y, weights = _data()
    history = model.fit(x, y, sample_weight=weights, epochs=1, batch_size=16, verbose=0)
    assert sorted(history.history) == ["loss", "sparse_categorical_accuracy", "weighted_sparse_categorical_accuracy"]

"""fit / evaluate / predict against Keras: same initial weights, same batches (shuffle=False), same optimizer, and
the History Keras returns (its keys in Keras's order, one value per epoch).

Tolerances: per-epoch loss and metrics relative 2e-4 (a mean over a few batches whose losses agree to ~1e-6),
accuracy within 1.5 samples, weights |ours - keras| <= 2e-3 * |keras| + 2e-4, predictions rtol 1e-3.
"""
from __future__ import annotations

import numpy as np
import pytest

import convlite
from convlite import optimizers
from parity.test_training import ecg_model

pytestmark = pytest.mark.tensorflow


def ecg_data(n=96, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 100, 1)).astype(np.float32)
    y = (x[:, :50, 0].mean(axis=1) > 0).astype(np.float32)
    return x, y


def digits_model(lib, classes=10):
    L = lib.layers
    return lib.Sequential([lib.Input((8, 8, 1)), L.Conv2D(8, 3, padding="same", activation="relu"),
                           L.MaxPooling2D(), L.Conv2D(8, 3, activation="relu"), L.Flatten(),
                           L.Dense(classes, activation="softmax")])


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_ecg_fit_matches_keras(keras, optimizer):
    convlite.utils.set_random_seed(5)
    x, y = ecg_data()
    ours, theirs = ecg_model(convlite), ecg_model(keras)
    theirs.set_weights(ours.get_weights())
    opt = {"sgd": (optimizers.SGD(0.05), keras.optimizers.SGD(0.05)),
           "adam": (optimizers.Adam(0.003), keras.optimizers.Adam(0.003))}[optimizer]
    ours.compile(opt[0], "binary_crossentropy", metrics=["accuracy"])
    theirs.compile(opt[1], "binary_crossentropy", metrics=["accuracy"])
    h_ours = ours.fit(x, y, batch_size=16, epochs=3, shuffle=False, verbose=0).history
    h_theirs = theirs.fit(x, y, batch_size=16, epochs=3, shuffle=False, verbose=0).history
    assert list(h_ours) == list(h_theirs)
    np.testing.assert_allclose(h_ours["loss"], h_theirs["loss"], rtol=2e-4)
    np.testing.assert_allclose(h_ours["accuracy"], h_theirs["accuracy"], atol=1.5 / len(x))
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, b, rtol=2e-3, atol=2e-4)
    np.testing.assert_allclose(ours.predict(x, verbose=0), theirs.predict(x, verbose=0), rtol=1e-3, atol=1e-5)
    np.testing.assert_allclose(ours.evaluate(x, y, verbose=0), theirs.evaluate(x, y, verbose=0), rtol=2e-4)


# (loss, metrics, validation, weighting): History keys depend on the first three (metrics may be a dict of
# compile's metrics= and weighted_metrics=). Keras 3 weights the loss by
# sample_weight / class_weight but not the `metrics=` of compile, and applies class_weight to the training data only.
HISTORY_CASES = {
    "bce-no_metrics-no_validation": ("binary_crossentropy", None, None, None),
    "bce-accuracy-split": ("binary_crossentropy", ["accuracy"], "split", None),
    "bce-accuracy_mae-data": ("binary_crossentropy", ["accuracy", "mae"], "data", None),
    "sparse-accuracy-split": ("sparse_categorical_crossentropy", ["accuracy"], "split", None),
    "categorical-accuracy_mse-data": ("categorical_crossentropy", ["accuracy", "mse"], "data", None),
    "bce-accuracy_mae-split-sample_weight": ("binary_crossentropy", ["accuracy", "mae"], "split", "sample_weight"),
    "bce-accuracy-split-class_weight": ("binary_crossentropy", ["accuracy"], "split", "class_weight"),
    "sparse-accuracy-data-class_weight": ("sparse_categorical_crossentropy", ["accuracy"], "data", "class_weight"),
    "bce-accuracy-split-uneven_batches": ("binary_crossentropy", ["accuracy"], "split", "batch_size_7"),
    "bce-weighted_metrics-split-sample_weight": ("binary_crossentropy", {"metrics": ["accuracy"],
                                                 "weighted_metrics": ["accuracy", "mae"]}, "split", "sample_weight"),
    "sparse-weighted_metrics-data-class_weight": ("sparse_categorical_crossentropy", {"weighted_metrics": ["accuracy"]},
                                                  "data", "class_weight"),
}


def _small_model(lib, units):
    L = lib.layers
    return lib.Sequential([lib.Input((11, 2)), L.Conv1D(4, 3, activation="relu"), L.GlobalAveragePooling1D(),
                           L.Dense(units, activation="sigmoid" if units == 1 else "softmax")])


@pytest.mark.parametrize("case", list(HISTORY_CASES))
def test_history_matches_keras(keras, case):
    loss, metrics, validation, weighting = HISTORY_CASES[case]
    rng = np.random.default_rng(3)
    x = rng.normal(size=(40, 11, 2)).astype(np.float32)
    labels = (x[:, :, 0].mean(axis=1) > 0).astype(np.int64) + (x[:, :, 1].mean(axis=1) > 0.2)
    units = 1 if loss == "binary_crossentropy" else 3
    y = {"binary_crossentropy": (labels > 0).astype(np.float32), "sparse_categorical_crossentropy": labels,
         "categorical_crossentropy": np.eye(3, dtype=np.float32)[labels]}[loss]
    convlite.utils.set_random_seed(9)
    ours, theirs = _small_model(convlite, units), _small_model(keras, units)
    theirs.set_weights(ours.get_weights())
    metric_args = metrics if isinstance(metrics, dict) else {"metrics": metrics}
    ours.compile(optimizers.SGD(0.1), loss, **metric_args)
    theirs.compile(keras.optimizers.SGD(0.1), loss, **metric_args)
    kwargs = {"batch_size": 8, "epochs": 2, "shuffle": False, "verbose": 0}
    if validation == "split":
        kwargs["validation_split"] = 0.25
    elif validation == "data":
        kwargs["validation_data"] = (x[:12], y[:12])
    sample_weight = rng.uniform(0.2, 2.0, size=len(x)).astype(np.float32)
    if weighting == "sample_weight":
        kwargs["sample_weight"] = sample_weight
    elif weighting == "class_weight":
        kwargs["class_weight"] = {0: 0.5, 1: 2.0, 2: 1.5} if units == 3 else {0: 0.5, 1: 2.0}
    elif weighting == "batch_size_7":
        kwargs["batch_size"] = 7
    h_ours, h_theirs = ours.fit(x, y, **kwargs), theirs.fit(x, y, **kwargs)
    assert list(h_ours.history) == list(h_theirs.history)
    assert h_ours.epoch == h_theirs.epoch == [0, 1]
    assert h_ours.params == h_theirs.params
    for key in h_theirs.history:
        np.testing.assert_allclose(h_ours.history[key], h_theirs.history[key], rtol=2e-4, atol=1e-6, err_msg=key)
    if weighting is not None:
        np.testing.assert_allclose(ours.evaluate(x, y, sample_weight=sample_weight, batch_size=7, verbose=0),
                                   theirs.evaluate(x, y, sample_weight=sample_weight, batch_size=7, verbose=0),
                                   rtol=2e-4, atol=1e-6, err_msg="evaluate with sample_weight")


def test_softmax_sparse_fit_with_validation_matches_keras(keras):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(64, 8, 8, 1)).astype(np.float32)
    y = rng.integers(0, 4, size=64)
    convlite.utils.set_random_seed(6)
    ours, theirs = digits_model(convlite, 4), digits_model(keras, 4)
    theirs.set_weights(ours.get_weights())
    ours.compile(optimizers.Adam(0.01), "sparse_categorical_crossentropy", metrics=["accuracy"])
    theirs.compile(keras.optimizers.Adam(0.01), "sparse_categorical_crossentropy", metrics=["accuracy"])
    h_ours = ours.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0, validation_split=0.25).history
    h_theirs = theirs.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0, validation_split=0.25).history
    assert list(h_ours) == list(h_theirs)
    for key in h_ours:
        np.testing.assert_allclose(h_ours[key], h_theirs[key], rtol=2e-4, atol=1e-6, err_msg=key)

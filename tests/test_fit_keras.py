"""Whole training runs against Keras: same initial weights, same batches (shuffle=False), same optimizer."""
from __future__ import annotations

import numpy as np
import pytest

import convlite
from convlite import layers
from helpers import tensorflow_or_skip


def ecg_data(n=96, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 100, 1)).astype(np.float32)
    y = (x[:, :50, 0].mean(axis=1) > 0).astype(np.float32)
    return x, y


def ecg_model(lib):
    L = lib.layers
    return lib.Sequential([lib.Input((100, 1)), L.Conv1D(16, 3, activation="relu"),
                           L.Conv1D(8, 3, activation="relu"), L.Flatten(), L.Dense(1, activation="sigmoid")])


def digits_model(lib, classes=10):
    L = lib.layers
    return lib.Sequential([lib.Input((8, 8, 1)), L.Conv2D(8, 3, padding="same", activation="relu"),
                           L.MaxPooling2D(), L.Conv2D(8, 3, activation="relu"), L.Flatten(),
                           L.Dense(classes, activation="softmax")])


@pytest.mark.tensorflow
@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_ecg_training_matches_keras(optimizer):
    tf = tensorflow_or_skip()
    keras = tf.keras
    x, y = ecg_data()
    ours = ecg_model(convlite)
    theirs = ecg_model(keras)
    theirs.set_weights(ours.get_weights())
    opt = {"sgd": (convlite_opt("SGD", 0.05), keras.optimizers.SGD(0.05)),
           "adam": (convlite_opt("Adam", 0.003), keras.optimizers.Adam(0.003))}[optimizer]
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


@pytest.mark.tensorflow
def test_softmax_sparse_training_matches_keras():
    tf = tensorflow_or_skip()
    keras = tf.keras
    rng = np.random.default_rng(1)
    x = rng.normal(size=(64, 8, 8, 1)).astype(np.float32)
    y = rng.integers(0, 4, size=64)
    ours, theirs = digits_model(convlite, 4), digits_model(keras, 4)
    theirs.set_weights(ours.get_weights())
    ours.compile(convlite_opt("Adam", 0.01), "sparse_categorical_crossentropy", metrics=["accuracy"])
    theirs.compile(keras.optimizers.Adam(0.01), "sparse_categorical_crossentropy", metrics=["accuracy"])
    h_ours = ours.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0, validation_split=0.25).history
    h_theirs = theirs.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0, validation_split=0.25).history
    assert list(h_ours) == list(h_theirs)
    for key in h_ours:
        np.testing.assert_allclose(h_ours[key], h_theirs[key], rtol=2e-4, atol=1e-6, err_msg=key)


def convlite_opt(name, lr):
    from convlite import optimizers

    return getattr(optimizers, name)(learning_rate=lr)

"""A small Conv2D model learns scikit-learn's 8x8 digits: >= 93% test accuracy within 8 epochs."""
from __future__ import annotations

import numpy as np
import pytest

import convlite
from convlite import layers
from helpers import using_threads


def _utils():
    from convlite import utils

    return utils


def test_digits_conv2d_reaches_93_percent():
    datasets = pytest.importorskip("sklearn.datasets")
    digits = datasets.load_digits()
    x = (digits.images / 16.0).astype(np.float32)[..., None]
    y = digits.target
    order = np.random.default_rng(0).permutation(len(x))
    x, y = x[order], y[order]
    x_train, y_train, x_test, y_test = x[:1400], y[:1400], x[1400:], y[1400:]
    _utils().set_random_seed(1)
    model = convlite.Sequential([
        convlite.Input((8, 8, 1)), layers.Conv2D(16, 3, padding="same", activation="relu"), layers.MaxPooling2D(),
        layers.Conv2D(32, 3, activation="relu"), layers.Flatten(), layers.Dropout(0.2),
        layers.Dense(10, activation="softmax"),
    ])
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    # One thread: on a busy 2-core CI runner a descheduled OpenMP worker stalls every tiny parallel region.
    with using_threads(1):
        history = model.fit(x_train, y_train, epochs=8, batch_size=32, validation_split=0.1, verbose=0)
    assert history.history["accuracy"][-1] > history.history["accuracy"][0]
    loss, accuracy = model.evaluate(x_test, y_test, verbose=0)
    assert accuracy >= 0.93, f"test accuracy {accuracy:.3f}"
    predicted = np.argmax(model.predict(x_test, verbose=0), axis=1)
    assert np.mean(predicted == y_test) == pytest.approx(accuracy)

"""Conv + relu + 2x2 max pooling as one model layer (ModelLayer::fusable_max_pool, model/conv_pool_fusion.cpp): a few
images at a time through the same ops, the full-size conv output and its gradient kept in a per-thread buffer.

The forward is the same ops on the same values, so predictions are bit-identical to the unfused layers; the weight
gradient adds per-block sums in block order, so trained weights agree to float32 rounding and, for one batch size,
bit for bit across thread counts."""
from __future__ import annotations

import numpy as np
import pytest

import convlite
from convlite import layers

from convlite.bench.profile_step import _layer_ranges
from helpers import using_threads


def _model(fused: bool, activation: str, first: bool, seed: int):
    """MNIST's first block (26x26x32 conv outputs: two images per block) or, with first=False, the same block after
    another conv so that it needs its input gradient too. fused=False puts a layer between the conv and the pooling,
    which keeps them apart."""
    convlite.utils.set_random_seed(seed)
    head = [] if first else [layers.Conv2D(2, 1)]
    between = [] if fused else [layers.Activation(activation)]
    return convlite.Sequential([
        convlite.Input((28, 28, 1)),
        *head,
        layers.Conv2D(32, 3, activation=activation if fused else None),
        *between,
        layers.MaxPooling2D(),
        layers.Flatten(),
        layers.Dense(3, activation="softmax"),
    ])


def _pool_time(model, x, y):
    """Profiled forward + backward time of the pooling layer: exactly 0 when the conv layer absorbed it (a view)."""
    core = model._compiled_core(training=True)
    core.set_profiling(True, False)
    model.train_on_batch(x, y)
    p = core.profile()
    core.set_profiling(False)
    (start, stop), = [(a, b) for name, a, b in _layer_ranges(model) if name.startswith("max_pooling2d")]
    assert stop == start + 1
    return p["forward"][start] + p["backward"][start]


def _data(rng, n=13):
    x = rng.random((n, 28, 28, 1), dtype=np.float32)
    x[:, :6] = -1.0  # whole windows at or below zero: relu zeros in the pooled output
    return x, rng.integers(0, 3, size=n)


@pytest.mark.parametrize("activation", ["relu", "linear"])
@pytest.mark.parametrize("first", [True, False])
def test_fused_block_trains_like_the_separate_layers(rng, activation, first):
    x, y = _data(rng)
    models = {}
    for fused in (True, False):
        model = _model(fused, activation, first, 5)
        model.compile("adam", "sparse_categorical_crossentropy")
        assert (_pool_time(model, x[:5], y[:5]) == 0.0) == fused  # absorbed only when adjacent
        convlite.utils.set_random_seed(5)
        model.set_weights(_model(fused, activation, first, 5).get_weights())
        models[fused] = model
    np.testing.assert_array_equal(models[True].predict(x, verbose=0), models[False].predict(x, verbose=0))
    for model in models.values():  # batch 7 of 13: blocks of 2, 2, 2, 1 and 2, 2, 2
        model.fit(x, y, batch_size=7, epochs=3, shuffle=False, verbose=0)
    for a, b in zip(models[True].get_weights(), models[False].get_weights()):
        np.testing.assert_allclose(a, b, rtol=2e-5, atol=2e-6)


def test_fused_block_is_bit_identical_across_thread_counts(rng):
    x, y = _data(rng, 16)
    weights = []
    for threads in (1, 2):
        with using_threads(threads):
            model = _model(True, "relu", False, 9)
            model.compile("sgd", "sparse_categorical_crossentropy")
            model.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0)
            weights.append(model.get_weights())
    for a, b in zip(*weights):
        np.testing.assert_array_equal(a, b)


def test_leaky_relu_and_odd_pooling_stay_unfused(rng):
    x, y = _data(rng, 4)
    leaky = convlite.Sequential([convlite.Input((28, 28, 1)), layers.Conv2D(4, 3, activation="leaky_relu"),
                                 layers.MaxPooling2D(), layers.Flatten(), layers.Dense(2)])
    overlapping = convlite.Sequential([convlite.Input((28, 28, 1)), layers.Conv2D(4, 3, activation="relu"),
                                       layers.MaxPooling2D(3, strides=2), layers.Flatten(), layers.Dense(2)])
    for model in (leaky, overlapping):
        model.compile("sgd", "mse")
        assert _pool_time(model, x, np.zeros((4, 2), np.float32)) > 0.0

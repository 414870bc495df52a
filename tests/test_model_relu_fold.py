"""A relu epilogue folded into the max pooling after it (ModelLayer::fold_input_relu_mask): the layer skips its mask
pass and the pooling layer masks its own gradient by its output. Trained weights must equal those of the same model
with separate ReLU layers (the unfolded path) bit for bit."""
from __future__ import annotations

import numpy as np

import convlite
from convlite import layers


def _relu_pool_model(fused: bool, seed: int):
    """Conv/Dense layers whose relu is either their epilogue (max pooling then masks its own dy and the layer skips
    its mask pass) or a separate ReLU layer (the unfolded path). Odd sizes, overlapping and 'same' windows, 1D, 2D
    and global pooling."""
    convlite.utils.set_random_seed(seed)

    def conv(cls, *args, **kwargs):
        if fused:
            return [cls(*args, activation="relu", **kwargs)]
        return [cls(*args, **kwargs), layers.ReLU()]

    return convlite.Sequential([
        convlite.Input((21, 19, 3)),
        *conv(layers.Conv2D, 5, 3), layers.MaxPooling2D(),                                 # 19x17 -> 9x8 (odd)
        *conv(layers.Conv2D, 6, 2, padding="same"), layers.MaxPooling2D(3, strides=1),     # overlapping windows
        *conv(layers.SeparableConv2D, 7, 2), layers.MaxPooling2D(2, padding="same"),
        *conv(layers.DepthwiseConv2D, 2), layers.GlobalMaxPooling2D(),
        layers.Reshape((7, 1)), *conv(layers.Dense, 4), layers.MaxPooling1D(2),
        layers.Flatten(), layers.Dense(3, activation="softmax"),
    ])


def test_relu_folded_into_max_pooling_is_bit_identical(rng):
    x = rng.normal(size=(21, 21, 19, 3)).astype(np.float32)
    x[:, :4] = -1.0  # whole windows at or below zero: the pooled output is a relu zero there
    y = rng.integers(0, 3, size=21)
    weights = []
    for fused in (True, False):
        model = _relu_pool_model(fused, 3)
        model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
        model.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0)
        weights.append(model.get_weights())
    assert len(weights[0]) == len(weights[1])
    for a, b in zip(*weights):
        np.testing.assert_array_equal(a, b)

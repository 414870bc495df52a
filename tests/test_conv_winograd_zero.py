"""An output whose 3x3 window is all zero is exactly act(0 + bias) on every route, as in TensorFlow (a sum of zero
products): F(4x4)'s transforms would otherwise leave ~1e-6 of rounding noise there, which a relu passes where Keras
gives 0 and no gradient (conv_winograd.cpp, restore_zero_windows)."""
from __future__ import annotations

import numpy as np
import pytest

from convlite import _core

from helpers import using_threads
from winograd_cases import TILES, using_algorithm


def _zero_windows(x, pad):
    """Boolean (batch, out_h, out_w): the 3x3 window (padding counts as zero) holds only zeros."""
    zero = ~(x != 0).any(axis=-1)
    padded = np.pad(zero, ((0, 0), (pad[0], pad[1]), (pad[2], pad[3])), constant_values=True)
    oh, ow = padded.shape[1] - 2, padded.shape[2] - 2
    out = np.ones((x.shape[0], oh, ow), bool)
    for i in range(3):
        for j in range(3):
            out &= padded[:, i:i + oh, j:j + ow]
    return out


def _maps(rng):
    """Relu'd feature maps with zero borders and zero holes, like the MNIST convnet's second conv input."""
    x = np.maximum(rng.standard_normal((3, 17, 15, 32)), 0).astype(np.float32)
    x[:, :4] = 0.0
    x[:, :, -3:] = -0.0
    x[1, 8:13, 5:10] = 0.0
    x[2, 9, 7, 31] = np.nan  # not zero: its windows keep the NaN
    return x


@pytest.mark.parametrize("algo", ("auto", "gemm") + TILES)
@pytest.mark.parametrize("padding", [(0, 0, 0, 0), (1, 1, 1, 1)])
@pytest.mark.parametrize("activation, slope", [("linear", 0.0), ("relu", 0.0), ("leaky_relu", 0.3)])
@pytest.mark.parametrize("bias_kind", ["zero", "random", "none"])
def test_all_zero_windows_give_exactly_the_activated_bias(rng, algo, padding, activation, slope, bias_kind):
    x = _maps(rng)
    w = (rng.standard_normal((3, 3, 32, 40)) / 17).astype(np.float32)
    bias = {"zero": np.zeros(40, np.float32), "random": rng.standard_normal(40).astype(np.float32),
            "none": None}[bias_kind]
    with using_algorithm(algo):
        y = _core.conv2d(x, w, bias, padding=padding, activation=activation, negative_slope=slope)
    windows = _zero_windows(x, padding)
    assert 10 < windows.sum() < windows.size
    b = np.float32(0.0) + (np.zeros(40, np.float32) if bias is None else bias)
    want = {"linear": b, "relu": np.maximum(b, 0), "leaky_relu": np.where(b > 0, b, b * np.float32(slope))}[activation]
    np.testing.assert_array_equal(y[windows], np.broadcast_to(want, (windows.sum(), 40)))
    assert not np.signbit(y[windows]).any() or activation != "relu"
    assert np.isnan(y[2]).any()  # the NaN pixel's windows were left alone


def test_restored_windows_are_the_same_for_any_thread_count(rng):
    x = _maps(rng)
    w = (rng.standard_normal((3, 3, 32, 40)) / 17).astype(np.float32)
    bias = rng.standard_normal(40).astype(np.float32)
    outs = []
    for threads in (1, 2):
        with using_threads(threads), using_algorithm("winograd4"):
            outs.append(_core.conv2d(x, w, bias, activation="relu"))
    np.testing.assert_array_equal(*outs)


@pytest.mark.parametrize("algo", ("gemm",) + TILES)
def test_windows_wholly_in_the_padding_give_the_bias_even_without_zero_pixels(rng, algo):
    x = rng.random((2, 12, 12, 32), dtype=np.float32) + np.float32(0.1)  # no zero pixel at all
    w = (rng.standard_normal((3, 3, 32, 40)) / 17).astype(np.float32)
    bias = rng.standard_normal(40).astype(np.float32)
    with using_algorithm(algo):
        y = _core.conv2d(x, w, bias, padding=(3, 3, 3, 3), activation="relu")
    want = np.maximum(bias, 0)
    for edge in (y[:, 0], y[:, -1], y[:, :, 0], y[:, :, -1]):
        np.testing.assert_array_equal(edge, np.broadcast_to(want, edge.shape))

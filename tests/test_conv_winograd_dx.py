"""Winograd input gradient over dy's own 4x4 tiles (ops/conv_winograd_dx.cpp): the transpose of the forward, dM =
A dY A^T, dV = U dM per element, dx patches B dV B^T overlap-added, alone or fed from the weight gradient's dM.

'winograd4' forces it wherever it applies (every padding here); 'auto' and 'winograd' take it where a counted cost
beats the route over dx's tiles (valid padding: fewer tiles over the smaller dy). Odd map sizes (7, 9, 13, 16),
channel counts off the 8- and 16-wide vectors (5, 37), pads beyond the kernel. Tolerance as test_conv_winograd.py's:
max |got - ref| <= 1e-5 * max |ref| against float64 (ref_conv).
"""
from __future__ import annotations

import numpy as np
import pytest

from convlite import _core

from helpers import simd_isas, tensorflow_or_skip, using_isa, using_threads
import ref_conv as ref
from winograd_cases import TOL, make, pads, rel_error, using_algorithm

# (batch, h, w, C_in, F, padding)
# F >= 32 throughout: below that conv2d_backward computes dx as a forward convolution of the padded dy (conv.cpp's
# dx_as_forward), which this route does not replace.
CASES = [
    (4, 13, 13, 32, 64, "valid"),      # MNIST conv2 (batch 64 in training): 3x3 tiles over the 11x11 dy
    (3, 7, 7, 5, 37, "valid"),         # one tile per image, F = 37 (a 5-filter tail), C_in = 5 (one partial vector)
    (2, 9, 9, 37, 33, "valid"),        # partial tiles at the edges, C_in = 37
    (2, 16, 16, 37, 37, "valid"),      # patches past dx's last row and column
    (2, 9, 9, 5, 37, "same"),          # patches starting above / left of dx
    (1, 7, 7, 37, 40, "full"),
    (2, 13, 12, 16, 33, (1, 0, 1, 0)),
    (1, 6, 5, 18, 36, (3, 4, 2, 5)),   # pads beyond the kernel: tiles of dy that reach no dx pixel
]


def backward(x, k, bias, pad, act, dy, need_dw, slope=0.0):
    """need_dw=False asks for dx alone (no db either: a bias gradient would run the weight-gradient pass too, which
    then computes dx from its dM)."""
    y = _core.conv2d(x, k, bias, padding=pad, activation=act, negative_slope=slope)
    return _core.conv2d_backward(x, k, y if act != "linear" else None, dy, padding=pad, activation=act,
                                 negative_slope=slope, has_bias=need_dw, need_dw=need_dw)


def case_data(rng, case, act="relu"):
    batch, h, w, c, f, mode = case
    x, k, bias = make(rng, batch, h, w, c, f)
    pad = pads(h, w, mode)
    y = _core.conv2d(x, k, bias, padding=pad, activation=act)
    dy = rng.standard_normal(y.shape).astype(np.float32)
    return x, k, bias, pad, y, dy


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("act", ["linear", "relu"])
def test_matches_float64_alone_and_with_the_weight_gradient(each_isa, rng, case, act):
    """dx alone, with db only and from the weight gradient's dM are the same bits and within the tolerance; dW and
    db are the same bits whether dx is wanted or not."""
    x, k, bias, pad, y, dy = case_data(rng, case, act)
    want_dx, want_dw, want_db = ref.conv2d_grads(x, k, dy, padding=pad, y=y, act=act)
    with using_algorithm("winograd4"):
        alone = backward(x, k, bias, pad, act, dy, need_dw=False)
        both = backward(x, k, bias, pad, act, dy, need_dw=True)
        no_dx = _core.conv2d_backward(x, k, y if act != "linear" else None, dy, padding=pad, activation=act,
                                      has_bias=True, need_dx=False)
        with_db = _core.conv2d_backward(x, k, y if act != "linear" else None, dy, padding=pad, activation=act,
                                        has_bias=True, need_dw=False)
    np.testing.assert_array_equal(alone[0], both[0])
    np.testing.assert_array_equal(with_db[0], both[0])
    np.testing.assert_array_equal(with_db[2], both[2])
    np.testing.assert_array_equal(both[1], no_dx[1])
    np.testing.assert_array_equal(both[2], no_dx[2])
    assert rel_error(both[0], want_dx) <= TOL
    assert rel_error(both[1], want_dw) <= TOL and rel_error(both[2], want_db) <= TOL


def test_mnist_conv2_error_next_to_the_other_routes(rng):
    """Batch 16, measured: over dy about 1.3e-6 of max |dx|, over dx's tiles of 4 2.3e-6, implicit GEMM 6.5e-7."""
    x, k, bias, pad, y, dy = case_data(rng, (16, 13, 13, 32, 64, "valid"))
    want = ref.conv2d_grads(x, k, dy, padding=pad, y=y, act="relu")[0]
    errors = {}
    for algo in ("gemm", "winograd4"):
        with using_algorithm(algo):
            errors[algo] = rel_error(backward(x, k, bias, pad, "relu", dy, need_dw=True)[0], want)
    assert errors["winograd4"] <= 4 * errors["gemm"] and errors["winograd4"] <= 3e-6, errors


def test_error_at_256_channels(rng):
    """The transforms' error grows with the channels summed (F here): measured 3.1e-6 to 3.5e-6 at 256 -> 256."""
    x, k, bias, pad, y, dy = case_data(rng, (2, 10, 10, 256, 256, "valid"), "linear")
    with using_algorithm("winograd4"):
        dx = backward(x, k, bias, pad, "linear", dy, need_dw=False)[0]
    assert rel_error(dx, ref.conv2d_grads(x, k, dy, padding=pad)[0]) <= TOL


@pytest.mark.parametrize("isa", simd_isas())
@pytest.mark.parametrize("live", [3, 36])
def test_simd_bit_identical_to_scalar_with_one_live_filter(rng, isa, live):
    """With one nonzero filter of dy, each dV sum has one nonzero product (rounded once by either kernel), so the
    transforms alone decide the bits: dM's and the patches' (channels 0-36, a 5-channel tail) with the overlap-adds
    must match scalar exactly on every ISA, alone and fed from the weight gradient."""
    x, k, bias = make(rng, 3, 9, 11, 37, 40)
    dy = np.zeros((3, 7, 9, 40), np.float32)
    dy[..., live] = rng.standard_normal((3, 7, 9))
    out = {}
    with using_algorithm("winograd4"):
        for name in ("scalar", isa):
            with using_isa(name):
                out[name] = [backward(x, k, bias, (0, 0, 0, 0), "linear", dy, need_dw)[0] for need_dw in (False, True)]
    for a, b in zip(out["scalar"], out[isa]):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("isa", simd_isas())
def test_simd_close_to_scalar(rng, isa):
    x, k, bias, pad, y, dy = case_data(rng, (2, 11, 9, 21, 35, "valid"))
    out = {}
    with using_algorithm("winograd4"):
        for name in ("scalar", isa):
            with using_isa(name):
                out[name] = backward(x, k, bias, pad, "relu", dy, need_dw=True)
    for a, b in zip(out["scalar"], out[isa]):
        assert rel_error(b, a.astype(np.float64)) <= TOL


@pytest.mark.parametrize("algo", ["auto", "winograd4"])
@pytest.mark.parametrize("shape", [(16, 13, 13, 32, 64), (3, 30, 30, 24, 40), (1, 34, 29, 16, 48)])
def test_threads_are_bit_identical(rng, algo, shape):
    """Several super-chunks of whole images (16 and 3 images), and one image whose weight-gradient blocks cross
    its tiles (dx then by itself)."""
    batch, h, w, c, f = shape
    x, k, bias = make(rng, batch, h, w, c, f)
    y = _core.conv2d(x, k, bias, activation="relu")
    dy = rng.standard_normal(y.shape).astype(np.float32)
    out = {}
    with using_algorithm(algo):
        for n in (1, 2):
            with using_threads(n):
                out[n] = [*backward(x, k, bias, (0, 0, 0, 0), "relu", dy, True),
                          backward(x, k, bias, (0, 0, 0, 0), "relu", dy, False)[0]]
    for a, b in zip(out[1], out[2]):
        np.testing.assert_array_equal(a, b)


def test_auto_takes_it_where_dy_has_fewer_tiles(rng):
    """Valid padding (MNIST conv2's 11x11 dy: 9 tiles per image against 16 over the 13x13 dx): 'auto' gives the
    forced route's bits. Same padding (as many tiles either way): the route over dx's tiles, whose bits differ."""
    for mode, over_dy in (("valid", True), ("same", False)):
        x, k, bias, pad, y, dy = case_data(rng, (4, 13, 13, 32, 64, mode))
        out = {}
        for algo in ("auto", "winograd", "winograd4"):
            with using_algorithm(algo):
                out[algo] = backward(x, k, bias, pad, "relu", dy, need_dw=True)[0]
        np.testing.assert_array_equal(out["auto"], out["winograd"])
        assert np.array_equal(out["auto"], out["winograd4"]) == over_dy
        want = ref.conv2d_grads(x, k, dy, padding=pad, y=y, act="relu")[0]
        assert rel_error(out["auto"], want) <= TOL


@pytest.mark.parametrize("isa", simd_isas())
def test_route_over_dx_tiles_still_matches_scalar(rng, isa):
    """The route over dx's tiles of 4 (same padding under 'winograd'), which 'winograd4' no longer reaches."""
    x, k, bias, pad, y, dy = case_data(rng, (2, 13, 13, 19, 33, "same"))
    want = ref.conv2d_grads(x, k, dy, padding=pad, y=y, act="relu")[0]
    out = {}
    with using_algorithm("winograd"):
        for name in ("scalar", isa):
            with using_isa(name):
                out[name] = backward(x, k, bias, pad, "relu", dy, need_dw=False)[0]
    assert rel_error(out[isa], out["scalar"].astype(np.float64)) <= TOL
    assert rel_error(out["scalar"], want) <= TOL


def test_matches_finite_differences(rng):
    x, k, bias = make(rng, 2, 9, 8, 6, 33)
    pad = (0, 0, 0, 0)
    r = rng.standard_normal(_core.conv2d(x, k, bias, padding=pad).shape)

    def loss(xx):
        y = _core.conv2d(xx, k, bias, padding=pad, activation="leaky_relu", negative_slope=0.2)
        return float(np.sum(y.astype(np.float64) * r))

    with using_algorithm("winograd4"):
        dx = backward(x, k, bias, pad, "leaky_relu", r.astype(np.float32), True, slope=0.2)[0]
    eps = 1e-2
    for idx in [(0, 0, 0, 0), (0, 4, 3, 5), (1, 8, 7, 2), (1, 4, 0, 1), (0, 1, 5, 3)]:
        plus, minus = x.copy(), x.copy()
        plus[idx] += eps
        minus[idx] -= eps
        numeric = (loss(plus) - loss(minus)) / (2 * eps)
        assert abs(numeric - dx[idx]) < 2e-2 * max(1.0, abs(numeric)), (idx, numeric, dx[idx])


# Nonzero patterns of A^T (dM = A dY A^T spreads dy pixel (a, b) of a tile to elements (i, j) with A^T[a, i] and
# A^T[b, j] nonzero) and B^T (the patch P = B dV B^T takes element (i, j) to pixels (r, q) with B^T[i, r] and
# B^T[j, q] nonzero): kernels/winograd4_math.inc.
A_T = np.array([[1, 1, 1, 1, 1, 0], [0, 1, -1, 0.5, -2, 0], [0, 1, 1, 0.25, 4, 0], [0, 1, -1, 0.125, -8, 1]]) != 0
B_T = np.array([[1, -1.5, -2, 1.5, 1, 0], [0, 2, -1, -5, -2, 0], [0, 2, -5, 1, 2, 0], [0, 2, 1, -2, -1, 0],
                [0, 1, -2, -1, 2, 0], [0, 1, -1.5, -2, 1.5, 1]]) != 0


@pytest.mark.parametrize("need_dw", [False, True])
@pytest.mark.parametrize("pixel", [(5, 6), (0, 3), (10, 10)])
def test_nan_in_dy_reaches_its_tiles_patch(each_isa, rng, need_dw, pixel):
    """A NaN in dy reaches exactly the dx pixels of its own tile's 6x6 patch that the transforms connect it to
    (every channel), and nothing else: the signature of this route (the route over dx's tiles spreads it over
    whole dx tiles instead), so it also shows that the route ran."""
    x, k, bias = make(rng, 1, 13, 13, 5, 33)
    dy = rng.standard_normal((1, 11, 11, 33)).astype(np.float32)
    dy[0, pixel[0], pixel[1], 7] = np.nan
    with using_algorithm("winograd4"):
        dx = backward(x, k, bias, (0, 0, 0, 0), "linear", dy, need_dw)[0]
    elements_i, elements_j = A_T[pixel[0] % 4], A_T[pixel[1] % 4]
    rows, cols = B_T[elements_i].any(axis=0), B_T[elements_j].any(axis=0)
    want = np.zeros((14, 14), bool)
    top, left = pixel[0] // 4 * 4, pixel[1] // 4 * 4
    want[top:top + 6, left:left + 6] = np.outer(rows, cols)
    np.testing.assert_array_equal(np.isnan(dx[0]), np.broadcast_to(want[:13, :13, None], dx.shape[1:]))


@pytest.mark.tensorflow
def test_layer_gradients_match_tensorflow(rng):
    """MNIST conv2 as Keras builds it (valid 3x3, relu, bias) under 'auto', which takes this route: dx, dW and db
    against TensorFlow's GradientTape on the same float32 data, within the tolerance of the float64 tests."""
    tf = tensorflow_or_skip()
    x, k, bias, pad, y, dy = case_data(rng, (4, 13, 13, 32, 64, "valid"))
    xt, kt, bt = tf.constant(x), tf.constant(k), tf.constant(bias)
    with tf.GradientTape() as tape:
        tape.watch([xt, kt, bt])
        yt = tf.nn.relu(tf.nn.conv2d(xt, kt, 1, "VALID") + bt)
    want = tape.gradient(yt, [xt, kt, bt], output_gradients=tf.constant(dy))
    with using_algorithm("auto"):
        got = backward(x, k, bias, pad, "relu", dy, need_dw=True)
    for g, t in zip(got, want):
        assert rel_error(g, t.numpy().astype(np.float64)) <= TOL

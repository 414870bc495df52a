"""Winograd route of conv2d (forward and stride-1 input gradient), tiles of 2 and 4, against the float64 reference.

Tolerance: max |got - ref| <= 1e-5 * max |ref| (the output's scale). Each output sums K = 9 * C_in products; float32
rounding of such a sum is about sqrt(K) * 2**-24 of the scale (~3e-7 for C_in = 64). F(2x2, 3x3) adds only sums
of 4 terms with coefficients +-1 and +-1/2 on either side of the GEMM: measured 1.5e-7 to 3e-7 here, against 3e-7 to
6e-7 for the implicit-GEMM path on the same shapes. F(4x4, 3x3)'s transforms (coefficients up to 5 and 8) amplify
rounding: measured 1e-6 to 3e-6 up to 128 channels, 4e-6 to 7e-6 at 256 and 512 (test_tile4_error_stays_below_the_
tolerance_at_256_channels). 1e-5 still fails on any wrong tap, pad, tile edge or transform coefficient (O(1) errors).

Routes: 'auto' takes Winograd for C_in >= 16 and F >= 16 (forward) and C_in, F >= 8 (input gradient), given at
least 32 2x2 output tiles mostly inside the map, then the tile size a cost model prefers (ops/conv_winograd_choice.cpp
has the measurements); 'winograd' forces Winograd for every 3x3 stride-1 conv with the cost model's tile;
'winograd2' / 'winograd4' force the tile, which lets small channel counts exercise every tail quickly; 'gemm' is
the opt-out (also CONVLITE_CONV_ALGO=gemm).
"""
from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

from convlite import _core

from helpers import simd_isas, using_isa, using_threads
import ref_conv as ref
from winograd_cases import TILES, TOL, make, pads, rel_error, using_algorithm


# (batch, h, w, C_in, F, padding): odd sizes (partial 2x2 and 4x4 tiles), 1x1 to 9x9 outputs, every padding mode
# and explicit asymmetric padding (pads > 2 crop dz in the input gradient), channel counts off multiples of 8 and
# of the 16-wide panels.
CASES = [
    (2, 7, 9, 19, 21, "same"),
    (1, 5, 6, 16, 16, "valid"),
    (3, 8, 8, 24, 40, "full"),
    (1, 9, 7, 17, 33, (0, 2, 1, 0)),
    (1, 6, 5, 18, 20, (3, 4, 2, 5)),
    (2, 3, 3, 3, 5, "same"),
    (1, 4, 11, 1, 2, "valid"),
    (2, 13, 10, 9, 12, (1, 0, 0, 1)),
    (1, 1, 1, 5, 7, "same"),
    (2, 4, 4, 8, 16, "same"),
    (1, 11, 11, 31, 9, "valid"),
    (1, 2, 9, 6, 17, (2, 0, 0, 3)),
]


@pytest.mark.parametrize("algo", TILES)
@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("act,slope,use_bias", [("linear", 0.0, False), ("relu", 0.0, True),
                                                ("leaky_relu", 0.2, True)])
def test_forward_matches_reference(each_isa, rng, algo, case, act, slope, use_bias):
    batch, h, w, c, f, mode = case
    x, k, bias = make(rng, batch, h, w, c, f)
    pad = pads(h, w, mode)
    with using_algorithm(algo):
        y = _core.conv2d(x, k, bias if use_bias else None, padding=pad, activation=act, negative_slope=slope)
    want = ref.conv2d(x, k, bias if use_bias else None, padding=pad, act=act, negative_slope=slope)
    assert y.shape == want.shape
    assert rel_error(y, want) <= TOL


@pytest.mark.parametrize("algo", TILES)
@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("act,slope", [("linear", 0.0), ("relu", 0.0)])
def test_input_gradient_matches_reference(each_isa, rng, algo, case, act, slope):
    batch, h, w, c, f, mode = case
    x, k, bias = make(rng, batch, h, w, c, f)
    pad = pads(h, w, mode)
    y = _core.conv2d(x, k, bias, padding=pad, activation=act, negative_slope=slope)
    dy = rng.standard_normal(y.shape).astype(np.float32)
    with using_algorithm(algo):
        dx, dw, db = _core.conv2d_backward(x, k, y, dy, padding=pad, activation=act, negative_slope=slope)
    want_dx, want_dw, want_db = ref.conv2d_grads(x, k, dy, padding=pad, y=y, act=act, negative_slope=slope)
    assert rel_error(dx, want_dx) <= TOL
    assert rel_error(dw, want_dw) <= TOL and rel_error(db, want_db) <= TOL  # the dx hook leaves dw/db alone


def routed(algo, x, k, bias, pad, dy):
    with using_algorithm(algo):
        return (_core.conv2d(x, k, bias, padding=pad, activation="relu"),
                _core.conv2d_backward(x, k, None, dy, padding=pad, need_dw=False)[0])


def test_auto_picks_the_tile_the_cost_model_prefers(rng):
    """MNIST conv2 (11x11 outputs, 13x13 input gradient, which goes over dy's 11x11: test_conv_winograd_dx.py) at
    batch 16: tiles of 4, as 'winograd' (best tile) does; 6x6 maps cost as many GEMM multiplies either way, so tiles
    of 2 (cheaper transforms). Results are those forced routes', bit for bit, and differ from the other tile's."""
    x, k, bias = make(rng, 16, 13, 13, 32, 64)
    dy = rng.standard_normal((16, 11, 11, 64)).astype(np.float32)
    out = {algo: routed(algo, x, k, bias, (0, 0, 0, 0), dy) for algo in ("auto", "winograd", *TILES)}
    for i in range(2):
        np.testing.assert_array_equal(out["auto"][i], out["winograd4"][i])
        np.testing.assert_array_equal(out["winograd"][i], out["winograd4"][i])
        assert not np.array_equal(out["auto"][i], out["winograd2"][i])
    x, k, bias = make(rng, 4, 6, 6, 32, 32)
    dy = rng.standard_normal((4, 6, 6, 32)).astype(np.float32)
    out = {algo: routed(algo, x, k, bias, (1, 1, 1, 1), dy) for algo in ("auto", *TILES)}
    for i in range(2):
        np.testing.assert_array_equal(out["auto"][i], out["winograd2"][i])
        assert not np.array_equal(out["auto"][i], out["winograd4"][i])


def test_auto_takes_winograd_above_the_threshold_and_gemm_below(rng):
    """The default route: above the threshold results differ from the GEMM path's in the last bits (and are
    as close to float64); below it they are the GEMM path's, bit for bit."""
    x, k, bias = make(rng, 2, 9, 11, 16, 24)
    y_dy = _core.conv2d(x, k, bias, padding=(1, 1, 1, 1))
    dy = rng.standard_normal(y_dy.shape).astype(np.float32)
    results = {}
    for algo in ("auto", "gemm"):
        with using_algorithm(algo):
            results[algo] = (_core.conv2d(x, k, bias, padding=(1, 1, 1, 1), activation="relu"),
                             _core.conv2d_backward(x, k, y_dy, dy, padding=(1, 1, 1, 1))[0])
    assert not np.array_equal(results["auto"][0], results["gemm"][0])
    assert not np.array_equal(results["auto"][1], results["gemm"][1])
    want = ref.conv2d(x, k, bias, padding=(1, 1, 1, 1), act="relu")
    assert rel_error(results["auto"][0], want) <= TOL and rel_error(results["gemm"][0], want) <= TOL
    x, k, bias = make(rng, 2, 9, 11, 15, 24)  # C_in below the forward threshold
    with using_algorithm("auto"):
        y_auto = _core.conv2d(x, k, bias, padding=(1, 1, 1, 1))
    with using_algorithm("gemm"):
        y_gemm = _core.conv2d(x, k, bias, padding=(1, 1, 1, 1))
    np.testing.assert_array_equal(y_auto, y_gemm)


def test_bench_shape_error_against_float64(rng):
    """The bench's shape (64 -> 64, 56x56, same; batch 2 here to stay quick): each tile's error next to GEMM's
    (measured: GEMM 6e-7, tiles of 2 3e-7, tiles of 4 2.3e-6)."""
    x, k, bias = make(rng, 2, 56, 56, 64, 64)
    want = ref.conv2d(x, k, bias, padding=(1, 1, 1, 1))
    errors = {}
    for algo in ("gemm", *TILES):
        with using_algorithm(algo):
            errors[algo] = rel_error(_core.conv2d(x, k, bias, padding=(1, 1, 1, 1)), want)
    assert max(errors.values()) <= TOL
    assert errors["winograd2"] <= 4 * errors["gemm"] and errors["winograd4"] <= 10 * errors["gemm"], errors


def test_tile4_error_stays_below_the_tolerance_at_256_channels(rng):
    """The error of tiles of 4 grows with the channels (measured 3.6e-6 forward, 5.1e-6 input gradient here)."""
    x, k, bias = make(rng, 2, 8, 8, 256, 256)
    dy = rng.standard_normal((2, 8, 8, 256)).astype(np.float32)
    with using_algorithm("winograd4"):
        y = _core.conv2d(x, k, bias, padding=(1, 1, 1, 1))
        dx = _core.conv2d_backward(x, k, None, dy, padding=(1, 1, 1, 1), need_dw=False)[0]
    assert rel_error(y, ref.conv2d(x, k, bias, padding=(1, 1, 1, 1))) <= TOL
    assert rel_error(dx, ref.conv2d_grads(x, k, dy, padding=(1, 1, 1, 1))[0]) <= TOL


@pytest.mark.parametrize("algo", TILES)
def test_input_gradient_matches_finite_differences(rng, algo):
    x, k, bias = make(rng, 1, 7, 6, 9, 10)
    pad = (1, 2, 0, 1)
    r = rng.standard_normal(_core.conv2d(x, k, bias, padding=pad).shape)

    def loss(xx):
        y = _core.conv2d(xx, k, bias, padding=pad, activation="leaky_relu", negative_slope=0.2)
        return float(np.sum(y.astype(np.float64) * r))

    y = _core.conv2d(x, k, bias, padding=pad, activation="leaky_relu", negative_slope=0.2)
    with using_algorithm(algo):
        dx = _core.conv2d_backward(x, k, y, r.astype(np.float32), padding=pad, activation="leaky_relu",
                                   negative_slope=0.2)[0]
    eps = 1e-2
    for idx in [(0, 0, 0, 0), (0, 3, 2, 4), (0, 6, 5, 8), (0, 5, 0, 1)]:
        plus, minus = x.copy(), x.copy()
        plus[idx] += eps
        minus[idx] -= eps
        numeric = (loss(plus) - loss(minus)) / (2 * eps)
        assert abs(numeric - dx[idx]) < 2e-2 * max(1.0, abs(numeric)), (idx, numeric, dx[idx])


@pytest.mark.parametrize("isa", simd_isas())
@pytest.mark.parametrize("algo", TILES)
@pytest.mark.parametrize("live", [3, 11, 17])
def test_simd_bit_identical_to_scalar_with_one_live_channel(rng, isa, algo, live):
    """With one nonzero channel, each GEMM sum has one nonzero product, rounded once by the scalar kernel's
    multiply-add and by the SIMD kernel's fma alike: the whole route must then match scalar bit for bit, which
    checks the transforms (full vectors, and the tail at channel 17 of 19), bias and activation on every ISA."""
    x, k, bias = make(rng, 2, 11, 9, 19, 21)
    x[..., np.arange(19) != live] = 0.0
    dy = np.zeros((2, 11, 9, 21), np.float32)
    dy[..., live] = rng.standard_normal((2, 11, 9))
    out = {}
    with using_algorithm(algo):
        for name in ("scalar", isa):
            with using_isa(name):
                out[name] = (_core.conv2d(x, k, bias, padding=(1, 1, 1, 1), activation="leaky_relu",
                                          negative_slope=0.3),
                             _core.conv2d_backward(x, k, None, dy, padding=(1, 1, 1, 1), need_dw=False)[0])
    np.testing.assert_array_equal(out["scalar"][0], out[isa][0])
    np.testing.assert_array_equal(out["scalar"][1], out[isa][1])


@pytest.mark.parametrize("isa", simd_isas())
@pytest.mark.parametrize("algo", TILES)
def test_simd_close_to_scalar(rng, isa, algo):
    """Dense data: the transforms agree bit for bit (above); the GEMM between differs (FMA)."""
    x, k, bias = make(rng, 2, 11, 9, 21, 35)
    y = _core.conv2d(x, k, bias, padding=(1, 1, 1, 1))
    dy = rng.standard_normal(y.shape).astype(np.float32)
    out = {}
    with using_algorithm(algo):
        for name in ("scalar", isa):
            with using_isa(name):
                out[name] = (_core.conv2d(x, k, bias, padding=(1, 1, 1, 1), activation="relu"),
                             _core.conv2d_backward(x, k, y, dy, padding=(1, 1, 1, 1))[0])
    for a, b in zip(out["scalar"], out[isa]):
        assert rel_error(b, a.astype(np.float64)) <= TOL


@pytest.mark.parametrize("algo", ["auto", *TILES])
@pytest.mark.parametrize("shape", [(4, 30, 30, 24, 20), (1, 57, 31, 16, 48)])
def test_threads_are_bit_identical(rng, algo, shape):
    batch, h, w, c, f = shape  # several tile blocks, so two threads really split the work
    x, k, bias = make(rng, batch, h, w, c, f)
    y = _core.conv2d(x, k, bias, padding=(1, 1, 1, 1))
    dy = rng.standard_normal(y.shape).astype(np.float32)
    out = {}
    with using_algorithm(algo):
        for n in (1, 2):
            with using_threads(n):
                out[n] = (_core.conv2d(x, k, bias, padding=(1, 1, 1, 1), activation="leaky_relu", negative_slope=0.1),
                          _core.conv2d_backward(x, k, y, dy, padding=(1, 1, 1, 1))[0])
    np.testing.assert_array_equal(out[1][0], out[2][0])
    np.testing.assert_array_equal(out[1][1], out[2][1])


# Nonzero patterns of B^T (input transform) and A^T (output transform): winograd_kernels.hpp, winograd4_math.inc.
TRANSFORMS = {
    "winograd2": (np.array([[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]]),
                  np.array([[1, 1, 1, 0], [0, 1, -1, -1]])),
    "winograd4": (np.array([[1, -1.5, -2, 1.5, 1, 0], [0, 2, -1, -5, -2, 0], [0, 2, -5, 1, 2, 0],
                            [0, 2, 1, -2, -1, 0], [0, 1, -2, -1, 2, 0], [0, 1, -1.5, -2, 1.5, 1]]),
                  np.array([[1, 1, 1, 1, 1, 0], [0, 1, -1, 0.5, -2, 0], [0, 1, 1, 0.25, 4, 0],
                            [0, 1, -1, 0.125, -8, 1]])),
}


def nan_outputs(algo, size, pad, pixel):
    """Outputs a NaN input pixel reaches on the Winograd route: in every tile whose patch holds it, the transformed
    elements with a nonzero B^T coefficient for it, then the outputs with a nonzero A^T coefficient for those."""
    bt, at = (m != 0 for m in TRANSFORMS[algo])
    tile, alpha = at.shape[0], bt.shape[0]
    mask = np.zeros((size, size), bool)
    for ty in range(-(-size // tile)):
        for tx in range(-(-size // tile)):
            r, q = pixel[0] - (ty * tile - pad), pixel[1] - (tx * tile - pad)
            if 0 <= r < alpha and 0 <= q < alpha:
                rows, cols = at[:, bt[:, r]].any(axis=1), at[:, bt[:, q]].any(axis=1)
                block = np.outer(rows, cols)
                part = mask[ty * tile:(ty + 1) * tile, tx * tile:(tx + 1) * tile]
                part |= block[:part.shape[0], :part.shape[1]]
    return mask


@pytest.mark.parametrize("algo", TILES)
@pytest.mark.parametrize("activation", ["relu", "leaky_relu"])
def test_nan_reaches_the_outputs_its_tile_transforms_touch(each_isa, algo, activation):
    """Tiles of 2: a NaN input pixel makes NaN exactly the outputs whose 3x3 window holds it, as the GEMM path
    (each transformed element uses only the input rows its outputs need). Tiles of 4: the inner pixels of a 6x6
    patch feed every transformed element, whose contributions to outputs outside the window cancel for finite
    values but not for NaN (or Inf), so NaN covers the predicted part of the tiles around it."""
    x = np.ones((1, 9, 9, 16), np.float32)
    x[0, 3, 4, 5] = np.nan
    w = -np.ones((3, 3, 16, 17), np.float32)  # negative outputs elsewhere, so a NaN cannot hide behind 0
    slope = 0.2 if activation == "leaky_relu" else 0.0
    masks = {}
    for route in (algo, "gemm"):
        with using_algorithm(route):
            masks[route] = np.isnan(_core.conv2d(x, w, None, padding=(1, 1, 1, 1), activation=activation,
                                                 negative_slope=slope))
    want = nan_outputs(algo, 9, 1, (3, 4))
    np.testing.assert_array_equal(masks[algo], np.broadcast_to(want[None, :, :, None], masks[algo].shape))
    assert masks["gemm"][0, 2:5, 3:6].all() and masks["gemm"].sum() == 9 * 17
    assert (masks[algo] >= masks["gemm"]).all()
    if algo == "winograd2":
        np.testing.assert_array_equal(masks[algo], masks["gemm"])


def test_algorithm_setter_validates():
    with pytest.raises(ValueError, match="Expected one of 'auto', 'gemm', 'winograd', 'winograd2', 'winograd4'. "
                                         "Received: algorithm='fast'"):
        _core.set_conv_algorithm("fast")
    for name in ("gemm", *TILES):
        with using_algorithm(name):
            assert _core.get_conv_algorithm() == name


def test_environment_opt_out_gives_the_gemm_results(rng, tmp_path):
    """CONVLITE_CONV_ALGO=gemm (read once at import) gives the GEMM path's bits; a bad value fails the import."""
    x, k, bias = make(rng, 2, 9, 10, 16, 16)
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "k.npy", k)
    script = ("import numpy as np, sys; from convlite import _core; d = sys.argv[1]; "
              "print(_core.get_conv_algorithm()); "
              "np.save(d + '/y.npy', _core.conv2d(np.load(d + '/x.npy'), np.load(d + '/k.npy'), None, "
              "padding=(1, 1, 1, 1)))")
    env = dict(os.environ, CONVLITE_CONV_ALGO="gemm")
    done = subprocess.run([sys.executable, "-c", script, str(tmp_path)], env=env, capture_output=True, text=True,
                          check=True)
    assert done.stdout.strip() == "gemm"
    with using_algorithm("gemm"):
        np.testing.assert_array_equal(np.load(tmp_path / "y.npy"), _core.conv2d(x, k, None, padding=(1, 1, 1, 1)))
    env["CONVLITE_CONV_ALGO"] = "fastest"
    bad = subprocess.run([sys.executable, "-c", "import convlite._core"], env=env, capture_output=True, text=True)
    assert bad.returncode != 0 and "CONVLITE_CONV_ALGO='fastest'" in bad.stderr

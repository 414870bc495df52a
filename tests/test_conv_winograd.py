"""Winograd F(2x2, 3x3) route of conv2d (forward and stride-1 input gradient), against the float64 reference.

Tolerance: max |got - ref| <= 1e-5 * max |ref| (the output's scale). Each output sums K = 9 * C_in products; float32
rounding of such a sum is about sqrt(K) * 2**-24 of the scale (~3e-7 for C_in = 64), and Winograd adds only sums
of 4 terms with coefficients +-1 and +-1/2 on either side of the GEMM: measured 1.5e-7 to 3e-7 here, against 3e-7 to
6e-7 for the implicit-GEMM path on the same shapes. 1e-5 leaves a wide margin yet fails on any wrong tap, pad or
tile edge (those are O(1) errors).

Routes: 'auto' takes Winograd for C_in >= 16 and F >= 16 (forward) and C_in, F >= 8 (input gradient), given at
least 32 output tiles mostly inside the map (ops/conv_winograd.cpp has the measurements); 'winograd'
forces it for every 3x3 stride-1 conv, which lets small channel counts exercise every tail quickly; 'gemm' is the
opt-out (also CONVLITE_CONV_ALGO=gemm).
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
from winograd_cases import TOL, make, pads, rel_error, using_algorithm


# (batch, h, w, C_in, F, padding): odd sizes (partial 2x2 tiles), every padding mode and explicit asymmetric
# padding (pads > 2 crop dz in the input gradient), channel counts off multiples of 8 and of the 16-wide panels.
CASES = [
    (2, 7, 9, 19, 21, "same"),
    (1, 5, 6, 16, 16, "valid"),
    (3, 8, 8, 24, 40, "full"),
    (1, 9, 7, 17, 33, (0, 2, 1, 0)),
    (1, 6, 5, 18, 20, (3, 4, 2, 5)),
    (2, 3, 3, 3, 5, "same"),
    (1, 4, 11, 1, 2, "valid"),
    (2, 13, 10, 9, 12, (1, 0, 0, 1)),
]


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("act,slope,use_bias", [("linear", 0.0, False), ("relu", 0.0, True),
                                                ("leaky_relu", 0.2, True)])
def test_forward_matches_reference(each_isa, rng, case, act, slope, use_bias):
    batch, h, w, c, f, mode = case
    x, k, bias = make(rng, batch, h, w, c, f)
    pad = pads(h, w, mode)
    with using_algorithm("winograd"):
        y = _core.conv2d(x, k, bias if use_bias else None, padding=pad, activation=act, negative_slope=slope)
    want = ref.conv2d(x, k, bias if use_bias else None, padding=pad, act=act, negative_slope=slope)
    assert y.shape == want.shape
    assert rel_error(y, want) <= TOL


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("act,slope", [("linear", 0.0), ("relu", 0.0)])
def test_input_gradient_matches_reference(each_isa, rng, case, act, slope):
    batch, h, w, c, f, mode = case
    x, k, bias = make(rng, batch, h, w, c, f)
    pad = pads(h, w, mode)
    y = _core.conv2d(x, k, bias, padding=pad, activation=act, negative_slope=slope)
    dy = rng.standard_normal(y.shape).astype(np.float32)
    with using_algorithm("winograd"):
        dx, dw, db = _core.conv2d_backward(x, k, y, dy, padding=pad, activation=act, negative_slope=slope)
    want_dx, want_dw, want_db = ref.conv2d_grads(x, k, dy, padding=pad, y=y, act=act, negative_slope=slope)
    assert rel_error(dx, want_dx) <= TOL
    assert rel_error(dw, want_dw) <= TOL and rel_error(db, want_db) <= TOL  # the dx hook leaves dw/db alone


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
    """The issue's shape (64 -> 64, 56x56, same; batch 2 here to stay quick): Winograd's error next to GEMM's."""
    x, k, bias = make(rng, 2, 56, 56, 64, 64)
    want = ref.conv2d(x, k, bias, padding=(1, 1, 1, 1))
    errors = {}
    for algo in ("winograd", "gemm"):
        with using_algorithm(algo):
            errors[algo] = rel_error(_core.conv2d(x, k, bias, padding=(1, 1, 1, 1)), want)
    assert errors["winograd"] <= TOL and errors["gemm"] <= TOL
    assert errors["winograd"] <= 4 * errors["gemm"], errors


def test_input_gradient_matches_finite_differences(rng):
    x, k, bias = make(rng, 1, 7, 6, 9, 10)
    pad = (1, 2, 0, 1)
    r = rng.standard_normal(_core.conv2d(x, k, bias, padding=pad).shape)

    def loss(xx):
        y = _core.conv2d(xx, k, bias, padding=pad, activation="leaky_relu", negative_slope=0.2)
        return float(np.sum(y.astype(np.float64) * r))

    y = _core.conv2d(x, k, bias, padding=pad, activation="leaky_relu", negative_slope=0.2)
    with using_algorithm("winograd"):
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
def test_simd_close_to_scalar(rng, isa):
    """Transforms are bit-identical across ISAs (additions in one order); the GEMM between differs (FMA)."""
    x, k, bias = make(rng, 2, 11, 9, 21, 35)
    y = _core.conv2d(x, k, bias, padding=(1, 1, 1, 1))
    dy = rng.standard_normal(y.shape).astype(np.float32)
    out = {}
    with using_algorithm("winograd"):
        for name in ("scalar", isa):
            with using_isa(name):
                out[name] = (_core.conv2d(x, k, bias, padding=(1, 1, 1, 1), activation="relu"),
                             _core.conv2d_backward(x, k, y, dy, padding=(1, 1, 1, 1))[0])
    for a, b in zip(out["scalar"], out[isa]):
        assert rel_error(b, a.astype(np.float64)) <= TOL


@pytest.mark.parametrize("shape", [(4, 30, 30, 24, 20), (1, 57, 31, 16, 48)])
def test_threads_are_bit_identical(rng, shape):
    batch, h, w, c, f = shape  # several tile blocks, so two threads really split the work
    x, k, bias = make(rng, batch, h, w, c, f)
    y = _core.conv2d(x, k, bias, padding=(1, 1, 1, 1))
    dy = rng.standard_normal(y.shape).astype(np.float32)
    out = {}
    with using_algorithm("auto"):
        for n in (1, 2):
            with using_threads(n):
                out[n] = (_core.conv2d(x, k, bias, padding=(1, 1, 1, 1), activation="leaky_relu", negative_slope=0.1),
                          _core.conv2d_backward(x, k, y, dy, padding=(1, 1, 1, 1))[0])
    np.testing.assert_array_equal(out[1][0], out[2][0])
    np.testing.assert_array_equal(out[1][1], out[2][1])


@pytest.mark.parametrize("activation", ["relu", "leaky_relu"])
def test_nan_is_kept_in_the_receptive_field_only(each_isa, activation):
    """A NaN input pixel makes NaN exactly the outputs whose 3x3 window holds it, as the GEMM path: each
    transformed element uses only the input rows its outputs need, so NaN does not leak across a tile."""
    x = np.ones((1, 9, 9, 16), np.float32)
    x[0, 3, 4, 5] = np.nan
    w = -np.ones((3, 3, 16, 17), np.float32)  # negative outputs elsewhere, so a NaN cannot hide behind 0
    slope = 0.2 if activation == "leaky_relu" else 0.0
    masks = {}
    for algo in ("winograd", "gemm"):
        with using_algorithm(algo):
            masks[algo] = np.isnan(_core.conv2d(x, w, None, padding=(1, 1, 1, 1), activation=activation,
                                                negative_slope=slope))
    np.testing.assert_array_equal(masks["winograd"], masks["gemm"])
    assert masks["winograd"][0, 2:5, 3:6].all() and masks["winograd"].sum() == 9 * 17


def test_algorithm_setter_validates():
    with pytest.raises(ValueError, match="Received: algorithm='fast'"):
        _core.set_conv_algorithm("fast")
    with using_algorithm("gemm"):
        assert _core.get_conv_algorithm() == "gemm"


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

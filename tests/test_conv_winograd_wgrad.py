"""Winograd F(2x2, 3x3) and F(4x4, 3x3) weight gradients (ops/conv_winograd_grad.cpp) against the float64
reference. Every test runs with each output tile forced (`tile` fixture), and the choice by shape is checked.

'winograd2' and 'winograd4' force the route and the tile for every 3x3 stride-1 conv, so small odd shapes reach each
tail: partial tiles at odd output sizes, channel groups of the 6-row reduction tile (C_in = 1, 5, 7, 13, 32), filter
vectors off 8 and 16 (F = 1, 9, 17, 33), padding beyond the kernel (tiles reading zeros only), several tile blocks
and super-chunks.
Tolerance as the forward's (test_conv_winograd.py): max |got - ref| <= 1e-5 * max |ref|. Also every ISA against
scalar, threads 1 vs 2 bit-identical, finite differences, and 'auto' taking it only above the channel threshold.
"""
from __future__ import annotations


import numpy as np
import pytest

from convlite import _core

from helpers import simd_isas, using_isa, using_threads
import ref_conv as ref
from winograd_cases import TILES, TOL, make, pads, rel_error, using_algorithm


@pytest.fixture(params=TILES)
def tile(request):
    """Forces the tile size (the forward's setting forces the weight gradient's too) and Winograd everywhere."""
    with using_algorithm(request.param):
        yield request.param


def grads(x, k, bias, pad, act, slope, dy, need_dx):
    y = _core.conv2d(x, k, bias, padding=pad, activation=act, negative_slope=slope)
    out = _core.conv2d_backward(x, k, y if act != "linear" else None, dy, padding=pad,
                                has_bias=bias is not None, need_dx=need_dx, activation=act, negative_slope=slope)
    return y, out


# (batch, h, w, C_in, F, padding)
CASES = [
    (2, 13, 13, 32, 64, "valid"),      # MNIST conv2: 11x11 output, partial tiles at the right and bottom edges
    (1, 7, 9, 5, 9, "same"),           # one 5-row channel group, F = 9
    (2, 6, 5, 13, 17, "full"),         # channel groups 6 + 7 -> 5,4,4; F = 17
    (1, 5, 8, 1, 1, "valid"),          # C_in = 1, F = 1
    (1, 6, 6, 7, 33, (3, 4, 2, 5)),    # pads beyond the kernel: tiles of padding only
    (3, 9, 10, 16, 8, (0, 2, 1, 0)),   # explicit, asymmetric
    (9, 12, 11, 6, 16, "same"),        # 9 * 36 = 324 tiles: several blocks and super-chunks
]


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("act,slope,use_bias", [("linear", 0.0, True), ("relu", 0.0, False),
                                                ("leaky_relu", 0.2, True)])
def test_weight_gradient_matches_reference(each_isa, tile, rng, case, act, slope, use_bias):
    batch, h, w, c, f, mode = case
    x, k, bias = make(rng, batch, h, w, c, f)
    b = bias if use_bias else None
    pad = pads(h, w, mode)
    y = _core.conv2d(x, k, b, padding=pad, activation=act, negative_slope=slope)
    dy = rng.standard_normal(y.shape).astype(np.float32)
    _, want_dw, want_db = ref.conv2d_grads(x, k, dy, padding=pad, y=y, act=act, negative_slope=slope)
    for need_dx in (False, True):
        _, (dx, dw, db) = grads(x, k, b, pad, act, slope, dy, need_dx)
        assert (dx is None) != need_dx
        assert rel_error(dw, want_dw) <= TOL
        if use_bias:
            assert rel_error(db, want_db) <= TOL
        else:
            assert db is None


@pytest.mark.parametrize("isa", simd_isas())
def test_simd_close_to_scalar(tile, rng, isa):
    """The transforms are bit-identical across ISAs (the same operations); the reduction differs (FMA), a
    difference F(4x4)'s output transform G^T dU G (entries up to 1/4, many terms) spreads a little wider."""
    x, k, bias = make(rng, 2, 9, 11, 13, 21)
    pad = (1, 1, 1, 1)
    dy = rng.standard_normal((2, 9, 11, 21)).astype(np.float32)
    results = []
    for name in ("scalar", isa):
        with using_isa(name):
            results.append(grads(x, k, bias, pad, "relu", 0.0, dy, False)[1])
    for got, want in zip(results[1][1:], results[0][1:]):
        assert rel_error(got, want.astype(np.float64)) <= (1e-6 if tile == "winograd2" else 5e-6)


def test_threads_are_bit_identical(tile, rng):
    # 784 tiles (F2x2) or 144 (F4x4): several blocks in 4 super-chunks, enough for a team
    x, k, bias = make(rng, 16, 13, 13, 32, 64)
    dy = rng.standard_normal((16, 11, 11, 64)).astype(np.float32)
    results = []
    for n in (1, 2):
        with using_threads(n):
            results.append(grads(x, k, bias, (0, 0, 0, 0), "relu", 0.0, dy, True)[1])
    for one, two in zip(*results):
        np.testing.assert_array_equal(one, two)


def test_weight_gradient_matches_finite_differences(tile, rng):
    """Linear activation: a weight moves every output, so a kink of relu/leaky would be crossed somewhere (the
    masks are checked against the reference above)."""
    x, k, bias = make(rng, 2, 7, 6, 5, 6)
    pad = (1, 2, 0, 1)
    r = rng.standard_normal(_core.conv2d(x, k, bias, padding=pad).shape)

    def loss(kk):
        y = _core.conv2d(x, kk, bias, padding=pad)
        return float(np.sum(y.astype(np.float64) * r))

    dw = grads(x, k, bias, pad, "linear", 0.0, r.astype(np.float32), False)[1][1]
    eps = 1e-2
    for idx in [(0, 0, 0, 0), (1, 2, 4, 5), (2, 2, 3, 1), (2, 1, 0, 3)]:
        plus, minus = k.copy(), k.copy()
        plus[idx] += eps
        minus[idx] -= eps
        numeric = (loss(plus) - loss(minus)) / (2 * eps)
        assert abs(numeric - dw[idx]) < 2e-2 * max(1.0, abs(numeric)), (idx, numeric, dw[idx])


def test_auto_takes_winograd_above_the_threshold_and_gemm_below(rng):
    """16 -> 24 channels: the weight gradient differs from the GEMM path's in the last bits; 8 -> 24 channels
    (below the forward's 16-channel threshold) it is the GEMM path's, bit for bit."""
    for c, differs in ((16, True), (8, False)):
        x, k, bias = make(rng, 2, 9, 11, c, 24)
        dy = rng.standard_normal((2, 9, 11, 24)).astype(np.float32)
        results = {}
        for algo in ("auto", "gemm"):
            with using_algorithm(algo):
                results[algo] = grads(x, k, bias, (1, 1, 1, 1), "linear", 0.0, dy, False)[1][1]
        assert np.array_equal(results["auto"], results["gemm"]) != differs


@pytest.mark.parametrize("out_hw, expected", [((11, 11), 4), ((5, 5), 2), ((6, 6), 2), ((12, 12), 4), ((3, 9), 4),
                                               ((2, 7), 2)])
def test_tile_chosen_by_shape(rng, out_hw, expected):
    """F(4x4) where its products with the edge waste are at most 80% of F(2x2)'s (MNIST conv2's 11x11 output),
    F(2x2) on small maps; the result under 'winograd' (tile by shape) equals the forced tile's bit for bit."""
    oh, ow = out_hw
    x, k, bias = make(rng, 2, oh + 2, ow + 2, 16, 16)
    dy = rng.standard_normal((2, oh, ow, 16)).astype(np.float32)
    results = {}
    for algo in ("winograd", "winograd2", "winograd4"):
        with using_algorithm(algo):
            results[algo] = grads(x, k, bias, (0, 0, 0, 0), "linear", 0.0, dy, False)[1][1]
    assert np.array_equal(results["winograd"], results[f"winograd{expected}"])
    assert not np.array_equal(results["winograd2"], results["winograd4"])

"""depthwise2d forward/backward: float64 reference over a grid (odd channel counts around the vector widths, dm 1-3
and more, strides 1-3, dilation, every padding kind), every SIMD tier bit-identical to scalar, threads 1 vs 2
bit-identical, finite differences."""
import itertools

import numpy as np
import pytest

from convlite import _core

from helpers import simd_isas, using_isa, using_threads
import ref_conv as ref

# (batch, H, W, C, dm, kh, kw, strides, dilations, pads as (top, bottom, left, right))
CASES = [
    (1, 5, 5, 1, 1, 1, 1, (1, 1), (1, 1), (0, 0, 0, 0)),
    (2, 9, 11, 3, 1, 3, 3, (1, 1), (1, 1), (1, 1, 1, 1)),      # same
    (1, 8, 9, 17, 1, 3, 3, (2, 2), (1, 1), (0, 1, 1, 1)),      # SIMD tail (16 + 1 channels), same at stride 2
    (1, 7, 7, 32, 1, 5, 5, (1, 1), (2, 2), (4, 4, 4, 4)),
    (2, 6, 8, 5, 3, 3, 2, (1, 2), (1, 1), (1, 1, 0, 1)),       # depth multiplier 3
    (1, 6, 6, 4, 9, 2, 2, (2, 2), (1, 1), (0, 0, 0, 0)),       # dm 9: one vector + tail
    (1, 1, 30, 16, 2, 1, 7, (1, 3), (1, 1), (0, 0, 6, 0)),     # 1-D causal
    (1, 10, 9, 8, 1, 3, 3, (3, 3), (2, 1), (2, 1, 0, 3)),      # stride and dilation together
    (2, 12, 21, 7, 1, 3, 3, (1, 1), (1, 1), (0, 0, 0, 0)),     # valid; 7 channels: partial vector only
    (1, 9, 26, 33, 1, 3, 3, (1, 1), (1, 1), (1, 1, 1, 1)),     # long interior runs, 32 + 1 channels
    (1, 7, 8, 9, 2, 1, 1, (3, 3), (1, 1), (0, 0, 0, 0)),       # stride > kernel: dx pixels no tap reaches
    (1, 3, 3, 5, 1, 3, 3, (1, 1), (1, 1), (4, 4, 4, 4)),       # windows wholly in the padding
    (1, 1, 40, 15, 1, 1, 5, (1, 1), (3, 3), (0, 0, 12, 0)),    # 1-D causal, dilated
    (1, 11, 13, 31, 2, 4, 4, (2, 3), (1, 1), (1, 2, 1, 2)),    # even kernel, asymmetric same padding
]


def _run(x, k, bias, st, dl, pad, act, slope, dy):
    y = _core.depthwise2d(x, k, bias, st, dl, pad, act, slope)
    grads = _core.depthwise2d_backward(x, k, y if act != "linear" else None, dy, st, dl, pad, bias is not None,
                                       True, act, slope)
    return y, grads


def _inputs(rng, case):
    b, h, w, c, dm, kh, kw, st, dl, pad = case
    x = rng.standard_normal((b, h, w, c)).astype(np.float32)
    k = rng.standard_normal((kh, kw, c, dm)).astype(np.float32)
    bias = rng.standard_normal(c * dm).astype(np.float32)
    oh = (h + pad[0] + pad[1] - dl[0] * (kh - 1) - 1) // st[0] + 1
    ow = (w + pad[2] + pad[3] - dl[1] * (kw - 1) - 1) // st[1] + 1
    dy = rng.standard_normal((b, oh, ow, c * dm)).astype(np.float32)
    return x, k, bias, dy


@pytest.mark.parametrize("act,slope", [("linear", 0.0), ("relu", 0.0), ("leaky_relu", 0.3)])
@pytest.mark.parametrize("case", CASES, ids=[str(i) for i in range(len(CASES))])
def test_depthwise_matches_reference(each_isa, rng, case, act, slope):
    _, _, _, _, _, _, _, st, dl, pad = case
    x, k, bias, dy = _inputs(rng, case)
    y, got = _run(x, k, bias, st, dl, pad, act, slope, dy)
    want = ref.depthwise2d(x, k, bias, st, dl, pad, act, slope)
    assert y.shape == want.shape
    np.testing.assert_allclose(y, want, rtol=1e-5, atol=1e-5 * max(1, np.abs(want).max()))
    for g, r in zip(got, ref.depthwise2d_grads(x, k, dy, st, dl, pad, y.astype(np.float64), act, slope)):
        assert g.shape == r.shape
        np.testing.assert_allclose(g, r, rtol=1e-5, atol=1e-5 * max(1, np.abs(r).max()))


# Channel counts around 8/16/32 (tails on AVX2 and AVX-512) x depth multipliers, each with one geometry from a list
# that covers strides 1-3, dilation and valid / same / causal / explicit padding.
GEOMETRIES = [  # (H, W, kh, kw, strides, dilations, pads)
    (9, 10, 3, 3, (1, 1), (1, 1), (1, 1, 1, 1)),
    (8, 11, 3, 3, (2, 2), (1, 1), (0, 1, 0, 1)),
    (10, 9, 3, 2, (3, 1), (1, 2), (0, 0, 0, 0)),
    (1, 23, 1, 4, (1, 2), (1, 1), (0, 0, 3, 0)),
    (7, 9, 5, 5, (1, 1), (2, 1), (5, 3, 2, 6)),
]
GRID = [(c, dm, GEOMETRIES[i % len(GEOMETRIES)])
        for i, (c, dm) in enumerate(itertools.product([1, 7, 8, 9, 15, 16, 17, 31, 32, 33], [1, 2, 3]))]


@pytest.mark.parametrize("isa", simd_isas())
def test_simd_tiers_match_scalar_bit_for_bit(rng, isa):
    # Every tier runs the same fma sequence, so results must be identical, not merely close.
    for c, dm, (h, w, kh, kw, st, dl, pad) in GRID:
        x, k, bias, dy = _inputs(rng, (2, h, w, c, dm, kh, kw, st, dl, pad))
        act, slope = [("linear", 0.0), ("relu", 0.0), ("leaky_relu", 0.2)][(c + dm) % 3]
        with using_isa("scalar"):
            want = _run(x, k, bias, st, dl, pad, act, slope, dy)
        with using_isa(isa):
            got = _run(x, k, bias, st, dl, pad, act, slope, dy)
        np.testing.assert_array_equal(got[0], want[0], err_msg=f"forward C={c} dm={dm}")
        for g, r, name in zip(got[1], want[1], ("dx", "dw", "db")):
            np.testing.assert_array_equal(g, r, err_msg=f"{name} C={c} dm={dm}")


@pytest.mark.parametrize("case", [
    ((1, 5, 6, 3), (3, 3, 3, 2), ((2, 1), (1, 2), (1, 1, 2, 1))),
    ((1, 7, 8, 17), (3, 3, 17, 1), ((3, 3), (1, 1), (1, 1, 1, 1))),
    ((1, 1, 12, 9), (1, 3, 9, 3), ((1, 1), (1, 2), (0, 0, 4, 0))),
])
def test_depthwise_gradient_matches_finite_differences(rng, case):
    xs, ks, args = case
    x = rng.standard_normal(xs).astype(np.float32)
    k = rng.standard_normal(ks).astype(np.float32)
    bias = rng.standard_normal(ks[2] * ks[3]).astype(np.float32)
    # Linear epilogue: the loss is then linear in each argument, so central differences carry rounding error only
    # (the activation masks are checked against the reference above).
    y = _core.depthwise2d(x, k, bias, *args)
    r = rng.standard_normal(y.shape)
    dx, dw, db = _core.depthwise2d_backward(x, k, None, r.astype(np.float32), *args, True, True)

    def loss(x_, k_, b_):
        return float(np.sum(_core.depthwise2d(x_, k_, b_, *args).astype(np.float64) * r))

    eps = 1e-2
    for which, (arr, grad) in enumerate([(x, dx), (k, dw), (bias, db)]):
        for _ in range(4):
            idx = tuple(int(rng.integers(n)) for n in arr.shape)
            plus, minus = arr.copy(), arr.copy()
            plus[idx] += eps
            minus[idx] -= eps
            pick = lambda a: [a if which == j else v for j, v in enumerate((x, k, bias))]
            numeric = (loss(*pick(plus)) - loss(*pick(minus))) / (2 * eps)
            assert abs(numeric - grad[idx]) < 1e-2 * max(1.0, abs(numeric)), (which, idx)


# Sizes above parallel_for's work threshold (about 1M cost units per thread), so two threads really split the
# rows of every pass and the super-chunks of dW.
@pytest.mark.parametrize("shape,strides,pad", [
    ((8, 48, 48, 32, 2), (1, 1), (1, 1, 1, 1)),
    ((12, 64, 72, 17, 3), (1, 2), (0, 1, 2, 0)),
])
def test_depthwise_threads_bit_identical(rng, shape, strides, pad):
    b, h, w, c, dm = shape
    x = rng.standard_normal((b, h, w, c)).astype(np.float32)
    k = rng.standard_normal((3, 3, c, dm)).astype(np.float32)
    bias = rng.standard_normal(c * dm).astype(np.float32)
    out = []
    for n in (1, 2):
        with using_threads(n):
            y = _core.depthwise2d(x, k, bias, strides, (1, 1), pad, "relu")
            dy = np.cos(np.arange(y.size, dtype=np.float32)).reshape(y.shape)
            out.append((y, *_core.depthwise2d_backward(x, k, y, dy, strides, (1, 1), pad, True, True, "relu")))
    for a, b_ in zip(*out):
        np.testing.assert_array_equal(a, b_)


# dx is formed inside the weight-gradient pass when dW is wanted (row by row with it, on one thread or when the
# super-chunks split evenly), by its own pass otherwise: the same bits either way. 8 x 20 x 24 makes 3 super-chunks.
@pytest.mark.parametrize("case", [CASES[2], CASES[4], CASES[7], (8, 20, 24, 9, 2, 3, 3, (1, 1), (1, 1), (1, 1, 1, 1))],
                         ids=["stride2", "dm3", "dilated", "supers3"])
@pytest.mark.parametrize("threads", [1, 2])
def test_depthwise_dx_same_with_or_without_dw(rng, case, threads):
    b, h, w, c, dm, kh, kw, st, dl, pad = case
    x = rng.standard_normal((b, h, w, c)).astype(np.float32)
    k = rng.standard_normal((kh, kw, c, dm)).astype(np.float32)
    y = _core.depthwise2d(x, k, None, st, dl, pad)
    dy = rng.standard_normal(y.shape).astype(np.float32)
    with using_threads(threads):
        alone = _core.depthwise2d_backward(x, k, None, dy, st, dl, pad, False, True, need_dw=False)[0]
        with_dw = _core.depthwise2d_backward(x, k, None, dy, st, dl, pad, True, True)[0]
    np.testing.assert_array_equal(alone, with_dw)


def test_depthwise_rejects_channel_mismatch():
    with pytest.raises(ValueError, match=r"x.shape=\(1, 4, 4, 3\), w.shape=\(3, 3, 2, 1\)"):
        _core.depthwise2d(np.zeros((1, 4, 4, 3), np.float32), np.zeros((3, 3, 2, 1), np.float32))

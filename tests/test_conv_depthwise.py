"""depthwise2d forward/backward: float64 reference over a grid (dm > 1, strides, dilation, padding), every ISA,
finite differences, threads 1 vs 2 bit-identical."""
import numpy as np
import pytest

from convlite import _core

from helpers import using_threads
import ref_conv as ref

# (batch, H, W, C, dm, kh, kw, strides, dilations, pads)
CASES = [
    (1, 5, 5, 1, 1, 1, 1, (1, 1), (1, 1), (0, 0, 0, 0)),
    (2, 9, 11, 3, 1, 3, 3, (1, 1), (1, 1), (1, 1, 1, 1)),
    (1, 8, 9, 17, 1, 3, 3, (2, 2), (1, 1), (0, 1, 1, 1)),    # SIMD tail (16 + 1 channels)
    (1, 7, 7, 32, 1, 5, 5, (1, 1), (2, 2), (4, 4, 4, 4)),
    (2, 6, 8, 5, 3, 3, 2, (1, 2), (1, 1), (1, 1, 0, 1)),     # depth multiplier 3
    (1, 6, 6, 4, 9, 2, 2, (2, 2), (1, 1), (0, 0, 0, 0)),     # dm 9: one vector + tail
    (1, 1, 30, 16, 2, 1, 7, (1, 3), (1, 1), (0, 0, 6, 0)),   # 1-D causal
    (1, 10, 9, 8, 1, 3, 3, (3, 3), (2, 1), (2, 1, 0, 3)),    # stride and dilation together
]


@pytest.mark.parametrize("act,slope", [("linear", 0.0), ("relu", 0.0), ("leaky_relu", 0.3)])
@pytest.mark.parametrize("case", CASES, ids=[str(i) for i in range(len(CASES))])
def test_depthwise_matches_reference(each_isa, rng, case, act, slope):
    b, h, w, c, dm, kh, kw, st, dl, pad = case
    x = rng.standard_normal((b, h, w, c)).astype(np.float32)
    k = rng.standard_normal((kh, kw, c, dm)).astype(np.float32)
    bias = rng.standard_normal(c * dm).astype(np.float32)
    y = _core.depthwise2d(x, k, bias, st, dl, pad, act, slope)
    want = ref.depthwise2d(x, k, bias, st, dl, pad, act, slope)
    np.testing.assert_allclose(y, want, rtol=1e-5, atol=1e-5 * max(1, np.abs(want).max()))
    dy = rng.standard_normal(y.shape).astype(np.float32)
    got = _core.depthwise2d_backward(x, k, y if act != "linear" else None, dy, st, dl, pad, True, True, act, slope)
    for g, r in zip(got, ref.depthwise2d_grads(x, k, dy, st, dl, pad, y.astype(np.float64), act, slope)):
        assert g.shape == r.shape
        np.testing.assert_allclose(g, r, rtol=1e-5, atol=1e-5 * max(1, np.abs(r).max()))


def test_depthwise_gradient_matches_finite_differences(rng):
    x = rng.standard_normal((1, 5, 6, 3)).astype(np.float32)
    k = rng.standard_normal((3, 3, 3, 2)).astype(np.float32)
    args = ((2, 1), (1, 2), (1, 1, 2, 1))
    r = rng.standard_normal(_core.depthwise2d(x, k, None, *args).shape)
    dx, dw, _ = _core.depthwise2d_backward(x, k, None, r.astype(np.float32), *args, False, True)
    eps = 1e-2
    for arr, grad, idx in [(x, dx, (0, 2, 3, 1)), (k, dw, (1, 2, 0, 1))]:
        plus, minus = arr.copy(), arr.copy()
        plus[idx] += eps
        minus[idx] -= eps
        f = lambda a: float(np.sum(_core.depthwise2d(a if arr is x else x, a if arr is k else k, None, *args) * r))
        assert abs((f(plus) - f(minus)) / (2 * eps) - grad[idx]) < 1e-2


def test_depthwise_threads_bit_identical(rng):
    x = rng.standard_normal((4, 40, 40, 24)).astype(np.float32)
    k = rng.standard_normal((3, 3, 24, 2)).astype(np.float32)
    bias = rng.standard_normal(48).astype(np.float32)
    out = []
    for n in (1, 2):
        with using_threads(n):
            y = _core.depthwise2d(x, k, bias, (1, 1), (1, 1), (1, 1, 1, 1), "relu")
            dy = np.cos(np.arange(y.size, dtype=np.float32)).reshape(y.shape)
            out.append((y, *_core.depthwise2d_backward(x, k, y, dy, (1, 1), (1, 1), (1, 1, 1, 1), True, True,
                                                       "relu")))
    for a, b in zip(*out):
        np.testing.assert_array_equal(a, b)


def test_depthwise_rejects_channel_mismatch():
    with pytest.raises(ValueError, match=r"x.shape=\(1, 4, 4, 3\), w.shape=\(3, 3, 2, 1\)"):
        _core.depthwise2d(np.zeros((1, 4, 4, 3), np.float32), np.zeros((3, 3, 2, 1), np.float32))

"""conv2d forward/backward against the float64 reference over a grid of geometries, every ISA; finite
differences; threads 1 vs 2 bit-identical (forward, dw, db)."""
import numpy as np
import pytest

from convlite import _core

from helpers import close, simd_isas, using_isa, using_threads
import ref_conv as ref

# (batch, H, W, C_in, F, kh, kw, strides, dilations, padding mode or explicit pads, groups)
CASES = [
    (1, 5, 5, 1, 1, 1, 1, (1, 1), (1, 1), "valid", 1),
    (2, 9, 11, 3, 5, 3, 3, (1, 1), (1, 1), "same", 1),
    (1, 8, 8, 1, 16, 3, 3, (1, 1), (1, 1), "same", 1),        # C_in = 1 first layer
    (1, 1, 40, 1, 16, 1, 3, (1, 1), (1, 1), "valid", 1),      # the ECG Conv1D shape
    (2, 1, 38, 16, 8, 1, 3, (1, 1), (1, 1), "valid", 1),
    (1, 1, 23, 4, 6, 1, 5, (1, 1), (1, 2), "causal", 1),
    (1, 1, 17, 3, 7, 1, 4, (1, 3), (1, 1), "causal", 1),
    (2, 7, 8, 4, 6, 2, 3, (2, 3), (1, 2), (0, 2, 1, 0), 2),
    (1, 12, 10, 8, 7, 3, 2, (2, 2), (2, 1), (2, 1, 0, 3), 1),
    (1, 10, 9, 6, 9, 3, 3, (3, 2), (1, 1), "same", 3),
    (1, 6, 7, 5, 4, 3, 3, (1, 1), (2, 2), "full", 1),
    (2, 13, 13, 17, 19, 5, 5, (2, 2), (1, 1), "same", 1),
    (1, 9, 9, 7, 11, 7, 7, (1, 1), (1, 1), "same", 1),
    (1, 11, 9, 4, 4, 7, 1, (3, 1), (1, 1), "valid", 4),
    (1, 8, 8, 6, 6, 2, 2, (2, 2), (1, 1), "valid", 6),        # grouped like depthwise
    (3, 5, 6, 32, 33, 1, 1, (1, 1), (1, 1), "valid", 1),      # 1x1 = plain GEMM
    (1, 9, 10, 12, 24, 1, 1, (2, 2), (1, 1), "same", 1),
    (1, 6, 6, 2, 3, 3, 3, (4, 4), (1, 1), "valid", 1),        # stride > kernel: some pixels get no gradient
    (1, 8, 9, 3, 5, 3, 3, (2, 3), (2, 2), (3, 0, 0, 4), 1),   # stride and dilation together (extension)
    (1, 4, 4, 3, 2, 4, 4, (1, 1), (1, 1), "valid", 1),        # kernel = input
]


def pads(case):
    _, h, w, _, _, kh, kw, st, dl, mode, _ = case
    if not isinstance(mode, str):
        return mode
    top, bottom = ref.pads_for(h, kh, st[0], dl[0], "valid" if mode == "causal" else mode)
    left, right = ref.pads_for(w, kw, st[1], dl[1], mode)
    return top, bottom, left, right


def make(rng, case, use_bias=True):
    b, h, w, c, f, kh, kw, st, dl, _, g = case
    x = rng.standard_normal((b, h, w, c)).astype(np.float32)
    k = (rng.standard_normal((kh, kw, c // g, f)) / np.sqrt(kh * kw * c / g)).astype(np.float32)
    bias = rng.standard_normal(f).astype(np.float32) if use_bias else None
    return x, k, bias


@pytest.mark.parametrize("act,slope", [("linear", 0.0), ("relu", 0.0), ("leaky_relu", 0.3)])
@pytest.mark.parametrize("case", CASES, ids=[str(i) for i in range(len(CASES))])
def test_conv2d_matches_reference(each_isa, rng, case, act, slope):
    st, dl, g = case[7], case[8], case[10]
    pad = pads(case)
    x, k, bias = make(rng, case, use_bias=act != "relu")
    y = _core.conv2d(x, k, bias, strides=st, dilations=dl, padding=pad, groups=g, activation=act,
                     negative_slope=slope)
    want = ref.conv2d(x, k, bias, st, dl, pad, g, act, slope)
    assert y.shape == want.shape
    close(y, want)
    dy = rng.standard_normal(y.shape).astype(np.float32)
    dx, dw, db = _core.conv2d_backward(x, k, y if act != "linear" else None, dy, st, dl, pad, g,
                                       bias is not None, True, act, slope)
    rdx, rdw, rdb = ref.conv2d_grads(x, k, dy, st, dl, pad, g, y=y.astype(np.float64), act=act,
                                     negative_slope=slope)
    close(dx, rdx)
    close(dw, rdw)
    if bias is None:
        assert db is None
    else:
        close(db, rdb)


def test_optional_gradients_are_skipped_and_agree(rng):
    case = CASES[9]
    x, k, bias = make(rng, case)
    pad = pads(case)
    dy = rng.standard_normal(ref.conv2d(x, k, None, case[7], case[8], pad, case[10]).shape).astype(np.float32)
    full = _core.conv2d_backward(x, k, None, dy, case[7], case[8], pad, case[10], True, True, "linear", 0.0)
    no_dx = _core.conv2d_backward(x, k, None, dy, case[7], case[8], pad, case[10], False, False, "linear", 0.0)
    assert no_dx[0] is None and no_dx[2] is None
    np.testing.assert_array_equal(no_dx[1], full[1])
    only_dx = _core.conv2d_backward(x, k, None, dy, case[7], case[8], pad, case[10], True, True, "linear", 0.0,
                                    need_dw=False)
    assert only_dx[1] is None
    np.testing.assert_array_equal(only_dx[0], full[0])
    np.testing.assert_array_equal(only_dx[2], full[2])


def test_conv2d_gradients_match_finite_differences(rng):
    st, dl, pad, g = (2, 1), (1, 2), (1, 0, 2, 1), 1
    x = rng.standard_normal((1, 6, 7, 3)).astype(np.float32)
    k = rng.standard_normal((3, 2, 3, 4)).astype(np.float32)
    bias = rng.standard_normal(4).astype(np.float32)
    r = rng.standard_normal(_core.conv2d(x, k, bias, st, dl, pad, g).shape)

    def loss(xx, kk, bb):
        return float(np.sum(_core.conv2d(xx, kk, bb, st, dl, pad, g, "leaky_relu", 0.2).astype(np.float64) * r))

    y = _core.conv2d(x, k, bias, st, dl, pad, g, "leaky_relu", 0.2)
    dx, dw, db = _core.conv2d_backward(x, k, y, r.astype(np.float32), st, dl, pad, g, True, True, "leaky_relu", 0.2)
    eps = 1e-2
    for arr, grad, idx in [(x, dx, (0, 2, 3, 1)), (x, dx, (0, 0, 0, 0)), (k, dw, (1, 1, 2, 3)), (bias, db, (2,))]:
        plus, minus = arr.copy(), arr.copy()
        plus[idx] += eps
        minus[idx] -= eps
        args_p = [plus if a is arr else a for a in (x, k, bias)]
        args_m = [minus if a is arr else a for a in (x, k, bias)]
        numeric = (loss(*args_p) - loss(*args_m)) / (2 * eps)
        assert abs(numeric - grad[idx]) < 2e-2 * max(1.0, abs(numeric)), (idx, numeric, grad[idx])


@pytest.mark.parametrize("isa", simd_isas())
def test_simd_close_to_scalar(rng, isa):
    case = CASES[11]
    x, k, bias = make(rng, case)
    pad = pads(case)
    args = (case[7], case[8], pad, case[10])
    with using_isa("scalar"):
        y0 = _core.conv2d(x, k, bias, *args)
        g0 = _core.conv2d_backward(x, k, None, y0, *args, True, True, "linear", 0.0)
    with using_isa(isa):
        y1 = _core.conv2d(x, k, bias, *args)
        g1 = _core.conv2d_backward(x, k, None, y0, *args, True, True, "linear", 0.0)
    close(y1, y0, 1e-5)
    for a, b in zip(g1, g0):
        close(a, b, 1e-5)


@pytest.mark.parametrize("shape", [
    (4, 48, 48, 8, 16, 3, 3, "same", 1),    # several super-chunks in the weight-gradient reduction
    (2, 30, 30, 64, 8, 3, 3, "same", 1),    # many K tiles, few pixels: split over K tiles
    (8, 1, 40000, 1, 16, 1, 3, "valid", 1),  # C_in = 1, long 1-D input
    (8, 48, 48, 24, 48, 3, 3, "same", 3),
])
def test_threads_are_bit_identical(rng, shape):
    # Shapes large enough that the work threshold lets two threads run (forward and weight gradient).
    b, h, w, c, f, kh, kw, mode, g = shape
    case = (b, h, w, c, f, kh, kw, (1, 1), (1, 1), mode, g)
    x, k, bias = make(rng, case)
    pad = pads(case)
    args = ((1, 1), (1, 1), pad, g)
    results = []
    for n in (1, 2):
        with using_threads(n):
            y = _core.conv2d(x, k, bias, *args, "relu")
            dy = rng.standard_normal(y.shape).astype(np.float32) if not results else results[0][1]
            results.append((y, dy, *_core.conv2d_backward(x, k, y, dy, *args, True, True, "relu", 0.0)))
    for one, two in zip(results[0], results[1]):
        np.testing.assert_array_equal(one, two)

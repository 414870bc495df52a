"""The direct small-convolution path (groups 1, dilation 1, kh*kw*C_in <= 256 with kw*C_in <= 64, filters <= 32)
against the float64
reference: odd filter counts (SIMD tails), pixel counts that are not multiples of 4, strides, every padding mode,
2-D kernels, every ISA, SIMD close to scalar, threads 1 vs 2 bit-identical, and the eligibility edges."""
import numpy as np
import pytest

from convlite import _core

from helpers import close, simd_isas, using_isa, using_threads
import ref_conv as ref
from conv_cases import make, pads

# (batch, H, W, C_in, F, kh, kw, strides, padding mode or explicit pads)
CASES = [
    (3, 1, 100, 1, 16, 1, 3, (1, 1), "valid"),      # ECG conv1
    (3, 1, 98, 16, 8, 1, 3, (1, 1), "valid"),       # ECG conv2
    (2, 1, 7, 1, 1, 1, 1, (1, 1), "valid"),         # one filter, 1x1
    (1, 1, 3, 2, 9, 1, 3, (1, 1), "valid"),         # a single output pixel
    (2, 1, 19, 5, 17, 1, 4, (1, 2), "same"),
    (1, 1, 23, 3, 31, 1, 5, (1, 3), "causal"),
    (2, 1, 13, 16, 32, 1, 4, (1, 1), "full"),       # K = 64, F = 32: the largest eligible
    (2, 1, 21, 7, 7, 1, 2, (1, 1), (0, 0, 3, 1)),   # explicit, asymmetric
    (2, 6, 7, 3, 5, 3, 3, (1, 1), "same"),          # 2-D
    (1, 9, 8, 2, 12, 2, 3, (2, 2), "valid"),
    (2, 7, 9, 4, 24, 3, 2, (3, 1), (2, 0, 1, 2)),
    (1, 5, 6, 1, 3, 4, 4, (4, 4), "valid"),         # stride > kernel
    (1, 1, 30, 13, 10, 1, 5, (1, 1), "same"),       # kernel row kw * C_in = 65: just outside, the GEMM path
    (1, 1, 30, 2, 33, 1, 3, (1, 1), "same"),        # F = 33: just outside
]


@pytest.mark.parametrize("act,slope", [("linear", 0.0), ("relu", 0.0), ("leaky_relu", 0.2)])
@pytest.mark.parametrize("case", CASES, ids=[str(i) for i in range(len(CASES))])
def test_small_conv_matches_reference(each_isa, rng, case, act, slope):
    st, pad = case[7], pads(case)
    x, k, bias = make(rng, case)
    use_bias = act != "leaky_relu"
    b = bias if use_bias else None
    y = _core.conv2d(x, k, b, strides=st, dilations=(1, 1), padding=pad, groups=1, activation=act,
                     negative_slope=slope)
    want = ref.conv2d(x, k, b, st, (1, 1), pad, 1, act, slope)
    assert y.shape == want.shape
    close(y, want)
    dy = rng.standard_normal(y.shape).astype(np.float32)
    dx, dw, db = _core.conv2d_backward(x, k, y if act != "linear" else None, dy, st, (1, 1), pad, 1, use_bias,
                                       True, act, slope)
    rdx, rdw, rdb = ref.conv2d_grads(x, k, dy, st, (1, 1), pad, 1, y=y.astype(np.float64), act=act,
                                     negative_slope=slope)
    close(dx, rdx)
    close(dw, rdw)
    if use_bias:
        close(db, rdb)
    else:
        assert db is None


@pytest.mark.parametrize("isa", simd_isas())
@pytest.mark.parametrize("case", [CASES[1], CASES[4], CASES[6], CASES[10]], ids=["ecg2", "same", "k64", "2d"])
def test_simd_close_to_scalar(rng, isa, case):
    x, k, bias = make(rng, case)
    args = (case[7], (1, 1), pads(case), 1)
    with using_isa("scalar"):
        y0 = _core.conv2d(x, k, bias, *args, "relu")
        dy = rng.standard_normal(y0.shape).astype(np.float32)
        g0 = _core.conv2d_backward(x, k, y0, dy, *args, True, True, "relu", 0.0)
    with using_isa(isa):
        y1 = _core.conv2d(x, k, bias, *args, "relu")
        g1 = _core.conv2d_backward(x, k, y0, dy, *args, True, True, "relu", 0.0)
    close(y1, y0, 1e-5)
    for a, b in zip(g1, g0):
        close(a, b, 1e-5)


def test_gradients_without_dx_or_db_agree(rng):
    case = CASES[4]
    x, k, bias = make(rng, case)
    args = (case[7], (1, 1), pads(case), 1)
    dy = rng.standard_normal(_core.conv2d(x, k, bias, *args).shape).astype(np.float32)
    full = _core.conv2d_backward(x, k, None, dy, *args, True, True, "linear", 0.0)
    no_dx = _core.conv2d_backward(x, k, None, dy, *args, False, False, "linear", 0.0)
    assert no_dx[0] is None and no_dx[2] is None
    np.testing.assert_array_equal(no_dx[1], full[1])
    only_dx = _core.conv2d_backward(x, k, None, dy, *args, True, True, "linear", 0.0, need_dw=False)
    assert only_dx[1] is None
    np.testing.assert_array_equal(only_dx[0], full[0])
    np.testing.assert_array_equal(only_dx[2], full[2])


@pytest.mark.parametrize("shape", [
    (96, 1, 400, 16, 8, 1, 3, (1, 1), "same"),   # several weight-gradient super-chunks
    (16, 20, 20, 3, 16, 3, 3, (1, 1), "same"),
])
def test_threads_are_bit_identical(rng, shape):
    x, k, bias = make(rng, shape)
    args = (shape[7], (1, 1), pads(shape), 1)
    results = []
    for n in (1, 2):
        with using_threads(n):
            y = _core.conv2d(x, k, bias, *args, "relu")
            dy = rng.standard_normal(y.shape).astype(np.float32) if not results else results[0][1]
            results.append((y, dy, *_core.conv2d_backward(x, k, y, dy, *args, True, True, "relu", 0.0)))
    for one, two in zip(results[0], results[1]):
        np.testing.assert_array_equal(one, two)

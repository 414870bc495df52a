"""Weight gradients of the shapes small CNNs train (MNIST convnet, LeNet-5 and odd neighbours) on both paths:
the GEMM reduction (whole kernel rows as segments over a padded copy of x, gathered Xcol panels when kw * C_in is
not a multiple of the panel width, dz^T formed once for every k-group) and the direct small-conv kernel (register
tiles over gathered receptive fields, the activation mask fused into the dz loads when dx is not wanted).
Checked against the float64 reference, every ISA against scalar, dW without dx equal to dW with dx, and threads
1 vs 2 bit-identical (the k-group split depends on the thread count, the sums must not)."""
import numpy as np
import pytest

from convlite import _core

from helpers import close, simd_isas, using_isa, using_threads
import ref_conv as ref

# (batch, H, W, C_in, F, kh, kw, strides, dilations, padding mode)
GEMM_CASES = [
    (3, 14, 14, 6, 16, 5, 5, (1, 1), (1, 1), "valid"),    # LeNet conv2: kw*C_in = 30, panels straddle rows
    (2, 13, 13, 32, 64, 3, 3, (1, 1), (1, 1), "valid"),   # MNIST conv2: kw*C_in = 96, rows read in place
    (2, 9, 11, 5, 7, 3, 5, (1, 1), (1, 1), "same"),       # padded rows mode, F = 7
    (2, 8, 9, 9, 3, 3, 3, (2, 1), (1, 1), "same"),        # F = 3 < 6, stride 2
    (2, 12, 10, 1, 40, 3, 3, (1, 1), (1, 1), "valid"),    # C_in = 1, F = 40 > 32
    (2, 11, 10, 4, 17, 3, 5, (1, 2), (2, 1), "same"),     # dilation_h = 2 in rows mode, F = 17
    (2, 11, 12, 5, 9, 3, 3, (1, 1), (1, 2), "same"),      # dilation_w = 2: one segment per tap
    (6, 38, 38, 8, 10, 3, 3, (1, 1), (1, 1), "same"),     # m > 8192: two super-chunks
]
SMALL_CASES = [
    (3, 10, 11, 1, 32, 3, 3, (1, 1), (1, 1), "valid"),    # MNIST conv1
    (2, 12, 12, 1, 6, 5, 5, (1, 1), (1, 1), "same"),      # LeNet conv1
    (2, 9, 7, 2, 20, 3, 3, (1, 1), (1, 1), "same"),       # F = 16 + 4
    (2, 8, 9, 3, 9, 2, 3, (2, 1), (1, 1), "valid"),       # F = 9: one 16-wide tile with 7 dead lanes
    (1, 7, 45, 1, 24, 3, 3, (1, 1), (1, 1), "same"),      # rows longer than a 32-pixel block, F = 16 + 8
    (2, 6, 5, 7, 13, 3, 3, (1, 1), (1, 1), "full"),       # K = 63
]
CASES = GEMM_CASES + SMALL_CASES
IDS = [f"gemm{i}" for i in range(len(GEMM_CASES))] + [f"small{i}" for i in range(len(SMALL_CASES))]


def pads(case):
    _, h, w, _, _, kh, kw, st, dil, mode = case
    top, bottom = ref.pads_for(h, kh, st[0], dil[0], mode)
    left, right = ref.pads_for(w, kw, st[1], dil[1], mode)
    return top, bottom, left, right


def make(rng, case):
    b, h, w, c, f, kh, kw = case[:7]
    x = rng.standard_normal((b, h, w, c)).astype(np.float32)
    k = (rng.standard_normal((kh, kw, c, f)) / np.sqrt(kh * kw * c)).astype(np.float32)
    bias = (0.1 * rng.standard_normal(f)).astype(np.float32)
    return x, k, bias


def backward(x, k, y, dy, case, act, slope, need_dx, use_bias=True):
    return _core.conv2d_backward(x, k, y if act != "linear" else None, dy, case[7], case[8], pads(case), 1,
                                 use_bias, need_dx, act, slope)


@pytest.mark.parametrize("act,slope", [("linear", 0.0), ("relu", 0.0), ("leaky_relu", 0.3)])
@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_weight_gradient_matches_reference(each_isa, rng, case, act, slope):
    x, k, bias = make(rng, case)
    y = _core.conv2d(x, k, bias, strides=case[7], dilations=case[8], padding=pads(case), activation=act,
                     negative_slope=slope)
    dy = rng.standard_normal(y.shape).astype(np.float32)
    rdx, rdw, rdb = ref.conv2d_grads(x, k, dy, case[7], case[8], pads(case), 1, y=y.astype(np.float64), act=act,
                                     negative_slope=slope)
    no_dx = backward(x, k, y, dy, case, act, slope, need_dx=False)
    assert no_dx[0] is None
    close(no_dx[1], rdw)
    close(no_dx[2], rdb)
    with_dx = backward(x, k, y, dy, case, act, slope, need_dx=True)
    close(with_dx[0], rdx)
    # The mask applied while loading dz (no dx) or formed once beforehand (dx) gives the same values.
    np.testing.assert_array_equal(with_dx[1], no_dx[1])
    np.testing.assert_array_equal(with_dx[2], no_dx[2])


@pytest.mark.parametrize("case", [GEMM_CASES[0], GEMM_CASES[3], GEMM_CASES[6]], ids=["lenet2", "f3", "dil_w"])
def test_weight_gradient_without_bias(rng, case):
    x, k, bias = make(rng, case)
    y = _core.conv2d(x, k, None, strides=case[7], dilations=case[8], padding=pads(case), activation="relu")
    dy = rng.standard_normal(y.shape).astype(np.float32)
    _, dw, db = backward(x, k, y, dy, case, "relu", 0.0, need_dx=False, use_bias=False)
    assert db is None
    _, rdw, _ = ref.conv2d_grads(x, k, dy, case[7], case[8], pads(case), 1, y=y.astype(np.float64), act="relu")
    close(dw, rdw)


@pytest.mark.parametrize("isa", simd_isas())
@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_simd_close_to_scalar(rng, isa, case):
    x, k, bias = make(rng, case)
    with using_isa("scalar"):
        y = _core.conv2d(x, k, bias, strides=case[7], dilations=case[8], padding=pads(case), activation="relu")
        dy = rng.standard_normal(y.shape).astype(np.float32)
        want = backward(x, k, y, dy, case, "relu", 0.0, need_dx=False)
    with using_isa(isa):
        got = backward(x, k, y, dy, case, "relu", 0.0, need_dx=False)
    close(got[1], want[1], 1e-5)
    close(got[2], want[2], 1e-5)


@pytest.mark.parametrize("need_dx", [False, True], ids=["dw", "dx_dw"])
@pytest.mark.parametrize("case", [GEMM_CASES[0], GEMM_CASES[1], GEMM_CASES[7], SMALL_CASES[0], SMALL_CASES[4]],
                         ids=["lenet2", "mnist2", "supers", "mnist1", "long_rows"])
def test_threads_are_bit_identical(rng, case, need_dx):
    x, k, bias = make(rng, case)
    y = _core.conv2d(x, k, bias, strides=case[7], dilations=case[8], padding=pads(case), activation="relu")
    dy = rng.standard_normal(y.shape).astype(np.float32)
    results = []
    for n in (1, 2):
        with using_threads(n):
            results.append(backward(x, k, y, dy, case, "relu", 0.0, need_dx=need_dx))
    for one, two in zip(*results):
        if one is None:
            assert two is None
        else:
            np.testing.assert_array_equal(one, two)

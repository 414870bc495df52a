"""Weight gradients on the reduction driver's packed path (gemm_reduction.cpp): 1x1 (pointwise) convolutions and
kernels whose NR panels are whole segments, with both operands of each 256-pixel chunk packed. Odd sizes hit every
tail: pixels not a multiple of the chunk, C_in not a multiple of the NR panel (a partial last panel), filters not
a multiple of the MR tile, zero segments from padding, several super-chunks and the k-group split on two threads.
One case with too few dz^T tiles to pay for packing keeps the in-place path covered. Checked against the float64
reference, every ISA against scalar, dW without dx equal to dW with dx (the mask fused into the dz packing or formed
beforehand), and threads 1 vs 2 bit-identical."""
import numpy as np
import pytest

from convlite import _core

from helpers import close, simd_isas, using_isa, using_threads
import ref_conv as ref

# (batch, H, W, C_in, F, kh, kw, strides, dilations, padding mode); every case has F > 32 or kw * C_in > 64, so
# the small direct kernel never takes it.
CASES = [
    (3, 13, 11, 37, 41, 1, 1, (1, 1), (1, 1), "valid"),   # 429 pixels: a partial chunk; C_in 37, F 41: tails
    (5, 41, 43, 21, 35, 1, 1, (1, 1), (1, 1), "valid"),   # 8815 pixels: two super-chunks
    (2, 15, 17, 33, 40, 1, 1, (2, 2), (1, 1), "valid"),   # strided 1x1: pixels apart in x
    (2, 16, 14, 70, 64, 1, 1, (1, 1), (1, 1), "valid"),   # C_in > 64, whole panels and tiles (16, 6 * 10 + 4)
    (2, 11, 12, 16, 36, 3, 3, (2, 1), (1, 1), "same"),    # rows mode: kw * C_in = 48, three whole panels a row
    (2, 9, 10, 32, 40, 3, 3, (1, 1), (1, 2), "same"),     # a segment per tap, zero segments in the padding
    (2, 10, 9, 80, 5, 1, 1, (1, 1), (1, 1), "valid"),     # F = 5: too few dz^T tiles, the in-place path
]
IDS = ["tails", "supers", "strided", "wide_in", "rows", "taps", "one_tile"]


def pads(case):
    _, h, w, _, _, kh, kw, st, dil, mode = case
    top, bottom = ref.pads_for(h, kh, st[0], dil[0], mode)
    left, right = ref.pads_for(w, kw, st[1], dil[1], mode)
    return top, bottom, left, right


def make(rng, case, act="relu", slope=0.0):
    b, h, w, c, f, kh, kw = case[:7]
    x = rng.standard_normal((b, h, w, c)).astype(np.float32)
    k = (rng.standard_normal((kh, kw, c, f)) / np.sqrt(kh * kw * c)).astype(np.float32)
    bias = (0.1 * rng.standard_normal(f)).astype(np.float32)
    y = _core.conv2d(x, k, bias, strides=case[7], dilations=case[8], padding=pads(case), activation=act,
                     negative_slope=slope)
    dy = rng.standard_normal(y.shape).astype(np.float32)
    return x, k, y, dy


def backward(x, k, y, dy, case, act, slope, need_dx, use_bias=True):
    return _core.conv2d_backward(x, k, y if act != "linear" else None, dy, case[7], case[8], pads(case), 1,
                                 use_bias, need_dx, act, slope)


@pytest.mark.parametrize("act,slope", [("linear", 0.0), ("relu", 0.0), ("leaky_relu", 0.2)])
@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_weight_gradient_matches_reference(each_isa, rng, case, act, slope):
    x, k, y, dy = make(rng, case, act, slope)
    rdx, rdw, rdb = ref.conv2d_grads(x, k, dy, case[7], case[8], pads(case), 1, y=y.astype(np.float64), act=act,
                                     negative_slope=slope)
    no_dx = backward(x, k, y, dy, case, act, slope, need_dx=False)
    close(no_dx[1], rdw)
    close(no_dx[2], rdb)
    # With dx wanted the driver also writes the masked gradient out as it packs dz, and dx reads that.
    with_dx = backward(x, k, y, dy, case, act, slope, need_dx=True)
    close(with_dx[0], rdx)
    np.testing.assert_array_equal(with_dx[1], no_dx[1])
    np.testing.assert_array_equal(with_dx[2], no_dx[2])


@pytest.mark.parametrize("need_dx", [False, True], ids=["dw", "dx_dw"])
def test_grouped_pointwise(each_isa, rng, need_dx):
    # Two groups of 20 -> 37 channels: each group's reduction reads and writes its own columns of dz.
    x = rng.standard_normal((2, 9, 11, 40)).astype(np.float32)
    k = (rng.standard_normal((1, 1, 20, 74)) / np.sqrt(20)).astype(np.float32)
    y = _core.conv2d(x, k, None, groups=2, activation="leaky_relu", negative_slope=0.1)
    dy = rng.standard_normal(y.shape).astype(np.float32)
    dx, dw, db = _core.conv2d_backward(x, k, y, dy, (1, 1), (1, 1), (0, 0, 0, 0), 2, True, need_dx, "leaky_relu",
                                       0.1)
    rdx, rdw, rdb = ref.conv2d_grads(x, k, dy, groups=2, y=y.astype(np.float64), act="leaky_relu",
                                     negative_slope=0.1)
    close(dw, rdw)
    close(db, rdb)
    if need_dx:
        close(dx, rdx)
    else:
        assert dx is None


@pytest.mark.parametrize("case", [CASES[0], CASES[5]], ids=["tails", "taps"])
def test_weight_gradient_without_bias(rng, case):
    x, k, y, dy = make(rng, case)
    _, dw, db = backward(x, k, y, dy, case, "relu", 0.0, need_dx=False, use_bias=False)
    assert db is None
    _, rdw, _ = ref.conv2d_grads(x, k, dy, case[7], case[8], pads(case), 1, y=y.astype(np.float64), act="relu")
    close(dw, rdw)


@pytest.mark.parametrize("isa", simd_isas())
@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_simd_close_to_scalar(rng, isa, case):
    with using_isa("scalar"):
        x, k, y, dy = make(rng, case)
        want = backward(x, k, y, dy, case, "relu", 0.0, need_dx=False)
    with using_isa(isa):
        got = backward(x, k, y, dy, case, "relu", 0.0, need_dx=False)
    close(got[1], want[1], 1e-5)
    close(got[2], want[2], 1e-5)


@pytest.mark.parametrize("act,slope", [("relu", 0.0), ("leaky_relu", 0.2)])
@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_threads_are_bit_identical(rng, case, act, slope):
    x, k, y, dy = make(rng, case, act, slope)
    results = []
    for n in (1, 2):
        with using_threads(n):
            results.append(backward(x, k, y, dy, case, act, slope, need_dx=False))
    for one, two in zip(*results):
        np.testing.assert_array_equal(one, two)

"""Direct-kernel routes added for the first and second layers of small image models, against the float64 reference:

- unit pixel stride (C_in = 1, stride_w = 1): forward register tiles of 8..13 pixels x 1 filter vector, 4..6 x 2,
  4 x 3, 3 x 4 (rows not a multiple of the tile overlap their neighbour; rows shorter than a tile take the general
  kernel), and the weight gradient for 3- and 5-wide kernels (64-pixel chunks of masked dz, kernel rows x filter
  vectors); F across every vector tail (1, 2, 5..9, 16, 17, 24, 25, 32), rows around the tile and chunk sizes;
- convolutions whose kernel rows are short (kw * C_in <= 64, F <= 32) with K up to 256 (LeNet conv2: 5x5, 6 -> 16):
  forward tiles at any pixel stride, weight-gradient calls spanning several output rows, and the input gradient by
  kernel-row groups (kernel rows of 1..8 vectors, group remainders), also where K > 256 or Winograd takes the rest.
Every ISA, SIMD close to scalar, threads 1 vs 2 bit-identical, and finite differences for the input gradient."""
import numpy as np
import pytest

from convlite import _core

from helpers import close, simd_isas, using_isa, using_threads
import ref_conv as ref
from conv_cases import make, pads

# (batch, H, W, C_in, F, kh, kw, strides, padding mode)
UNIT_CASES = [
    (2, 9, 28, 1, 6, 5, 5, (1, 1), "same"),      # LeNet conv1: 28-pixel rows as 10 + 10 + 8
    (2, 8, 28, 1, 32, 3, 3, (1, 1), "valid"),    # MNIST conv1: 3 pixels x 4 vectors
    (1, 3, 12, 1, 1, 3, 3, (1, 1), "valid"),     # F = 1: a vector is 8 pixels' worth of one filter
    (1, 4, 13, 1, 2, 3, 3, (1, 1), "same"),      # F = 2, 13 pixels: one tile, whole-vector stores overrun
    (2, 5, 31, 1, 5, 5, 5, (1, 1), "valid"),     # 27 pixels: 9 + 9 + 9
    (1, 5, 22, 1, 7, 3, 5, (1, 1), "same"),      # 3 x 5 kernel, 22 pixels
    (1, 4, 10, 1, 8, 3, 3, (1, 1), "valid"),     # 8 pixels: exactly one 8-pixel tile
    (1, 3, 9, 1, 9, 3, 3, (1, 1), "same"),       # F = 9: two vectors, 9 pixels = 5 + 4 overlapping
    (2, 6, 17, 1, 16, 5, 5, (1, 1), "same"),     # F = 16, 17 pixels
    (1, 5, 15, 1, 17, 3, 3, (1, 1), "valid"),    # F = 17: three vectors, 13 pixels
    (1, 4, 19, 1, 24, 5, 5, (1, 1), "same"),     # F = 24: 4 x 3 tiles
    (1, 4, 12, 1, 25, 3, 3, (1, 1), "same"),     # F = 25: four vectors, 7 dead lanes
    (1, 3, 70, 1, 12, 3, 3, (1, 1), "same"),     # rows longer than a 64-pixel weight-gradient chunk
    (2, 7, 5, 1, 6, 3, 3, (1, 1), "valid"),      # 3 pixels per row: shorter than any tile
    (1, 6, 11, 1, 11, 2, 4, (2, 1), "same"),     # stride_h 2 keeps unit pixel stride; 4-wide rows
    (1, 1, 40, 1, 16, 1, 3, (1, 1), "causal"),   # Conv1D
]
# Input-gradient cases: kw * C_in <= 64 (kernel rows of 1..8 vectors), any kh, F <= 32.
DX_CASES = [
    (2, 14, 14, 6, 16, 5, 5, (1, 1), "valid"),   # LeNet conv2: kernel rows of 30 floats, 3 + 2 rows
    (1, 9, 8, 16, 7, 3, 4, (1, 1), "same"),      # rows of exactly 64 floats (8 vectors, one row a group)
    (1, 16, 5, 3, 5, 13, 1, (1, 1), "same"),     # 13 kernel rows of 3 floats: a 12-row group and 1 more
    (2, 9, 10, 5, 32, 7, 2, (1, 1), "valid"),    # F = 32, rows of 10 floats
    (1, 11, 9, 4, 1, 3, 5, (2, 2), "same"),      # F = 1, strides 2
    (2, 8, 7, 7, 17, 4, 3, (1, 2), "full"),      # rows of 21 floats (3 vectors, 4 rows a group), padding
    (1, 10, 12, 2, 9, 6, 6, (3, 1), (2, 0, 1, 3)),  # explicit asymmetric pads
]
UNIT_IDS = [f"unit{i}" for i in range(len(UNIT_CASES))]
DX_IDS = [f"dx{i}" for i in range(len(DX_CASES))]


def run(x, k, bias, case, act, slope, dy=None, need_dx=True):
    args = (case[7], (1, 1), pads(case), 1)
    y = _core.conv2d(x, k, bias, *args, act, slope)
    if dy is None:
        return y, None
    return y, _core.conv2d_backward(x, k, y if act != "linear" else None, dy, *args, bias is not None, need_dx,
                                    act, slope)


@pytest.mark.parametrize("act,slope,use_bias", [("linear", 0.0, True), ("relu", 0.0, False),
                                                ("leaky_relu", 0.2, True)])
@pytest.mark.parametrize("case", UNIT_CASES + DX_CASES, ids=UNIT_IDS + DX_IDS)
def test_matches_reference(each_isa, rng, case, act, slope, use_bias):
    x, k, bias = make(rng, case)
    b = bias if use_bias else None
    y, _ = run(x, k, b, case, act, slope)
    want = ref.conv2d(x, k, b, case[7], (1, 1), pads(case), 1, act, slope)
    assert y.shape == want.shape
    close(y, want)
    dy = rng.standard_normal(y.shape).astype(np.float32)
    rdx, rdw, rdb = ref.conv2d_grads(x, k, dy, case[7], (1, 1), pads(case), 1, y=y.astype(np.float64), act=act,
                                     negative_slope=slope)
    # The first layer's call (no dx: the mask is fused into the weight-gradient loads) and the full one.
    _, (no_dx, dw, db) = run(x, k, b, case, act, slope, dy, need_dx=False)
    assert no_dx is None
    close(dw, rdw)
    _, (dx, dw2, db2) = run(x, k, b, case, act, slope, dy)
    close(dx, rdx)
    np.testing.assert_array_equal(dw2, dw)
    if use_bias:
        close(db, rdb)
        np.testing.assert_array_equal(db2, db)
    else:
        assert db is None and db2 is None


@pytest.mark.parametrize("isa", simd_isas())
@pytest.mark.parametrize("case", UNIT_CASES + DX_CASES, ids=UNIT_IDS + DX_IDS)
def test_simd_close_to_scalar(rng, isa, case):
    x, k, bias = make(rng, case)
    with using_isa("scalar"):
        y0, _ = run(x, k, bias, case, "relu", 0.0)
        dy = rng.standard_normal(y0.shape).astype(np.float32)
        _, g0 = run(x, k, bias, case, "relu", 0.0, dy)
    with using_isa(isa):
        y1, g1 = run(x, k, bias, case, "relu", 0.0, dy)
    close(y1, y0, 1e-5)
    for got, want in zip(g1, g0):
        close(got, want, 1e-5)


@pytest.mark.parametrize("shape", [
    (40, 28, 28, 1, 6, 5, 5, (1, 1), "same"),    # LeNet conv1 with enough work for a team
    (24, 26, 26, 1, 32, 3, 3, (1, 1), "valid"),  # MNIST conv1
    (48, 14, 14, 6, 16, 5, 5, (1, 1), "valid"),  # LeNet conv2's input gradient
], ids=["lenet1", "mnist1", "lenet2"])
def test_threads_are_bit_identical(rng, shape):
    x, k, bias = make(rng, shape)
    dy = None
    results = []
    for n in (1, 2):
        with using_threads(n):
            y, _ = run(x, k, bias, shape, "relu", 0.0)
            dy = rng.standard_normal(y.shape).astype(np.float32) if dy is None else dy
            _, grads = run(x, k, bias, shape, "relu", 0.0, dy)
            _, first_layer = run(x, k, bias, shape, "relu", 0.0, dy, need_dx=False)
            results.append((y, *grads, *first_layer[1:]))
    for one, two in zip(*results):
        np.testing.assert_array_equal(one, two)


@pytest.mark.parametrize("case", [DX_CASES[0], DX_CASES[5]], ids=["lenet2", "full"])
def test_input_gradient_matches_finite_differences(rng, case):
    x, k, bias = make(rng, case)
    y, _ = run(x, k, bias, case, "leaky_relu", 0.2)
    r = rng.standard_normal(y.shape)

    def loss(xx):
        yy, _ = run(xx, k, bias, case, "leaky_relu", 0.2)
        return float(np.sum(yy.astype(np.float64) * r))

    dx = run(x, k, bias, case, "leaky_relu", 0.2, r.astype(np.float32))[1][0]
    eps = 1e-2
    last = tuple(n - 1 for n in x.shape)
    for idx in [(0, 0, 0, 0), last, (0, x.shape[1] // 2, x.shape[2] // 2, x.shape[3] // 2), (0, 1, x.shape[2] - 1, 0)]:
        plus, minus = x.copy(), x.copy()
        plus[idx] += eps
        minus[idx] -= eps
        numeric = (loss(plus) - loss(minus)) / (2 * eps)
        assert abs(numeric - dx[idx]) < 2e-2 * max(1.0, abs(numeric)), (idx, numeric, dx[idx])

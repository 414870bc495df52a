"""The specialised 2x2 / stride 2 pooling route (every window inside the input): bit for bit what the general
kernels define, emulated here in float32 numpy with the same order of operations; odd spatial sizes (an uncovered
last row / column), odd channel counts (SIMD tails), ties, NaN, every ISA against scalar, threads 1 vs 2."""
import numpy as np
import pytest

from convlite import _core

from helpers import simd_isas, using_isa, using_threads

# Shapes that take the 2x2 route with padding (0, 0, 0, 0): even and odd sides, channels 1, 3, 6, 7, 8, 13, 17, 24
# (fewer than a vector: full-width accesses that run into the next pixel, masked ones at each row end).
SHAPES = [(2, 6, 6, 8), (3, 7, 9, 13), (1, 4, 4, 1), (2, 8, 5, 17), (1, 2, 2, 24), (2, 3, 11, 3), (3, 13, 15, 6),
          (2, 9, 7, 7), (1, 28, 28, 6)]
GEO = dict(pool=(2, 2), strides=(2, 2), padding=(0, 0, 0, 0))


def windows(x):
    """The four cells of each window in row-major order: arrays of shape (N, H//2, W//2, C)."""
    h, w = x.shape[1] // 2 * 2, x.shape[2] // 2 * 2
    return [x[:, i:h:2, j:w:2] for i, j in ((0, 0), (0, 1), (1, 0), (1, 1))]


def emulate_max(x):
    """First cell seeds; a later cell wins only when strictly greater (NaN never wins unless it is first)."""
    cells = windows(x)
    best = cells[0].copy()
    oh, ow = best.shape[1:3]
    base = (2 * np.arange(oh)[:, None] * x.shape[2] + 2 * np.arange(ow)[None, :]).astype(np.int32)
    where = np.broadcast_to(base[None, :, :, None], best.shape).copy()
    for offset, v in zip((1, x.shape[2], x.shape[2] + 1), cells[1:]):
        better = v > best
        best = np.where(better, v, best)
        where = np.where(better, base[None, :, :, None] + offset, where)
    return best, where.astype(np.int32)


def emulate_avg(x):
    s = np.float32(0)
    for v in windows(x):
        s = s + v  # float32, row-major order, starting from +0
    return (s / np.float32(4)).astype(np.float32)


def emulate_max_backward(argmax, dy, shape):
    dx = np.zeros(shape, np.float32)
    n, oh, ow, c = dy.shape
    for (i, j) in ((0, 0), (0, 1), (1, 0), (1, 1)):
        cell = (2 * np.arange(oh)[:, None] + i) * shape[2] + 2 * np.arange(ow)[None, :] + j
        dx[:, i:2 * oh:2, j:2 * ow:2] = np.where(argmax == cell[None, :, :, None], dy, np.float32(0))
    return dx


def emulate_avg_backward(dy, shape):
    dx = np.zeros(shape, np.float32)
    oh, ow = dy.shape[1:3]
    for (i, j) in ((0, 0), (0, 1), (1, 0), (1, 1)):
        dx[:, i:2 * oh:2, j:2 * ow:2] = dy / np.float32(4)
    return dx


def tricky(rng, shape):
    """Normal values with ties (repeated 0.5), signed zeros and NaN in first and later cells."""
    x = rng.standard_normal(shape).astype(np.float32)
    x.flat[::5] = 0.5
    x.flat[3::11] = -0.0
    x.flat[1::13] = np.nan
    return x


def run_all(x, dy):
    y, argmax = _core.max_pool2d(x, return_argmax=True, **GEO)
    return (y, argmax, _core.max_pool2d(x, **GEO), _core.max_pool2d_backward(argmax, dy, x.shape, **GEO),
            _core.avg_pool2d(x, **GEO), _core.avg_pool2d_backward(dy, x.shape, **GEO))


def assert_same(a, b):
    np.testing.assert_array_equal(a, b)
    if a.dtype == np.float32:  # signed zeros and NaN positions too
        np.testing.assert_array_equal(np.signbit(a), np.signbit(b))


@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_matches_the_emulated_general_kernel(each_isa, rng, shape):
    x = tricky(rng, shape)
    oh, ow = shape[1] // 2, shape[2] // 2
    dy = rng.standard_normal((shape[0], oh, ow, shape[3])).astype(np.float32)
    y, argmax, y_plain, dx_max, y_avg, dx_avg = run_all(x, dy)
    ey, eargmax = emulate_max(x)
    assert_same(y, ey)
    np.testing.assert_array_equal(argmax, eargmax)
    assert_same(y_plain, ey)
    assert_same(dx_max, emulate_max_backward(argmax, dy, shape))
    with np.errstate(invalid="ignore"):
        assert_same(y_avg, emulate_avg(x))
    assert_same(dx_avg, emulate_avg_backward(dy, shape))


def test_nan_only_wins_from_the_first_cell():
    x = np.array([[[[np.nan], [1.0]], [[2.0], [3.0]]], [[[1.0], [np.nan]], [[2.0], [np.nan]]]], np.float32)
    y, argmax = _core.max_pool2d(x, return_argmax=True, **GEO)
    assert np.isnan(y[0, 0, 0, 0]) and argmax[0, 0, 0, 0] == 0
    assert y[1, 0, 0, 0] == 2.0 and argmax[1, 0, 0, 0] == 2


@pytest.mark.parametrize("isa", simd_isas())
@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_simd_is_bit_identical_to_scalar(rng, isa, shape):
    x = tricky(rng, shape)
    dy = rng.standard_normal((shape[0], shape[1] // 2, shape[2] // 2, shape[3])).astype(np.float32)
    with using_isa("scalar"):
        expected = run_all(x, dy)
    with using_isa(isa):
        got = run_all(x, dy)
    for e, g in zip(expected, got):
        assert_same(g, e)


@pytest.mark.parametrize("shape", [(8, 64, 64, 16), (4, 65, 63, 13), (64, 28, 28, 6)], ids=str)
def test_threads_give_identical_results(rng, shape):
    # Large enough that two threads really split the rows (LeNet's 64x28x28x6 since few channels count as a vector).
    x = tricky(rng, shape)
    dy = rng.standard_normal((shape[0], shape[1] // 2, shape[2] // 2, shape[3])).astype(np.float32)
    with using_threads(1):
        one = run_all(x, dy)
    with using_threads(2):
        two = run_all(x, dy)
    for a, b in zip(one, two):
        assert_same(a, b)


@pytest.mark.parametrize("shape", [(4, 11, 11, 64), (3, 9, 12, 5), (2, 12, 7, 3)])
def test_backward_zeroes_the_uncovered_cells_of_a_reused_buffer(rng, shape):
    """Only the last row / column no window covers is zeroed (not the whole gradient): outputs land in memory that
    held NaNs a moment ago (a freed array of the same size), and those cells must still come out 0."""
    x = rng.standard_normal(shape).astype(np.float32)
    y, argmax = _core.max_pool2d(x, (2, 2), return_argmax=True, **{k: v for k, v in GEO.items() if k != "pool"})
    dy = rng.standard_normal(y.shape).astype(np.float32)
    for _ in range(3):
        junk = np.full(shape, np.nan, np.float32)
        del junk  # the allocator hands this block to the next array of the same size
        got = _core.max_pool2d_backward(argmax, dy, shape, (2, 2), (2, 2))
        np.testing.assert_array_equal(got, emulate_max_backward(argmax, dy, shape))
        junk = np.full(shape, np.nan, np.float32)
        del junk
        got = _core.avg_pool2d_backward(dy, shape, (2, 2), (2, 2))
        np.testing.assert_array_equal(got, emulate_avg_backward(dy, shape))

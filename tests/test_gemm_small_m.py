"""The small-M GEMM (a dense layer's few rows) against the general driver, float64 and itself across threads.

Its first row tile of each micro-panel reads a row-major B in place and packs it as it goes (tile_stream), the
other tiles read the packed copy and prefetch the next panel; a tile of at most 4 valid rows runs a 4-row k
loop. None of that may change a bit: each output row must equal the same row computed by the general driver
(a batch above the small-M limit of 192 rows), which packs B up front and uses the same K blocks.
Shapes: batch % 6 from 0 to 5 (the 4-row loop for 1-4 valid rows, the 6-row loop for 5), k with tails of 1-3
after the loop unrolled by 4 and K blocks of unequal length, units with and without a partial last panel (packed
first, not read in place), a single row tile (the first tile prefetches the next panel itself).
"""
import numpy as np
import pytest

from convlite import _core

from helpers import close, using_threads
import ref_conv as ref

# (batch, in, units); none narrow enough for the row-by-row dot product forward (units * in > 64K or units
# filling most of their 16-lane panels).
SHAPES = [(64, 1024, 512), (61, 1031, 77), (4, 257, 48), (5, 300, 45), (1, 19, 16), (23, 515, 100),
          (190, 500, 47), (10, 2050, 130), (3, 1029, 64)]

GENERAL_BATCH = 200  # above small_m_fits' 192 rows: the packed-B driver


def _padded(x, rows, rng):
    """x with random rows appended up to `rows`, so the batch takes the general driver."""
    extra = rng.standard_normal((rows - x.shape[0], x.shape[1])).astype(np.float32)
    return np.concatenate([x, extra])


@pytest.mark.parametrize("act,slope", [("relu", 0.0), ("leaky_relu", 0.2), ("linear", 0.0)])
@pytest.mark.parametrize("batch,inp,units", SHAPES)
def test_small_m_forward_bit_identical_to_general_driver(each_isa, rng, batch, inp, units, act, slope):
    x = rng.standard_normal((batch, inp)).astype(np.float32)
    w = rng.standard_normal((inp, units)).astype(np.float32)
    bias = rng.standard_normal(units).astype(np.float32)
    y = _core.dense(x, w, bias, act, slope)
    general = _core.dense(_padded(x, GENERAL_BATCH, rng), w, bias, act, slope)[:batch]
    np.testing.assert_array_equal(y, general)
    want = ref.dense(x, w, bias, act, slope)
    np.testing.assert_allclose(y, want, rtol=1e-5, atol=1e-5 * np.sqrt(inp) * 4)


@pytest.mark.parametrize("batch,inp,units", SHAPES)
def test_small_m_input_gradient_bit_identical_to_general_driver(each_isa, rng, batch, inp, units):
    """dx = dz w^T: B = w^T, read down w's rows, packed per micro-panel before use (not in place)."""
    x = rng.standard_normal((batch, inp)).astype(np.float32)
    w = rng.standard_normal((inp, units)).astype(np.float32)
    dy = rng.standard_normal((batch, units)).astype(np.float32)
    dx, _, _ = _core.dense_backward(x, w, None, dy, False, True, "linear", 0.0, False)
    big_x, big_dy = _padded(x, GENERAL_BATCH, rng), _padded(dy, GENERAL_BATCH, rng)
    general, _, _ = _core.dense_backward(big_x, w, None, big_dy, False, True, "linear", 0.0, False)
    np.testing.assert_array_equal(dx, general[:batch])
    want = dy.astype(np.float64) @ w.T.astype(np.float64)
    np.testing.assert_allclose(dx, want, rtol=1e-5, atol=1e-5 * np.sqrt(units) * 4)


@pytest.mark.parametrize("beta", [0.0, 1.0, -0.5])
@pytest.mark.parametrize("m,n,k", [(7, 33, 1030), (64, 48, 257), (2, 16, 3)])
def test_small_m_sgemm_beta_bit_identical_to_general_driver(each_isa, rng, m, n, k, beta):
    """beta scales C in the first K block's tile, the fused first tile included."""
    a = rng.standard_normal((m, k)).astype(np.float32)
    b = rng.standard_normal((k, n)).astype(np.float32)
    c = rng.standard_normal((m, n)).astype(np.float32)
    got = _core.sgemm(a, b, c=c, beta=beta)
    general = _core.sgemm(_padded(a, GENERAL_BATCH, rng), b, c=_padded(c, GENERAL_BATCH, rng), beta=beta)[:m]
    np.testing.assert_array_equal(got, general)
    close(got, a.astype(np.float64) @ b + beta * c.astype(np.float64), tol=1e-5 * np.sqrt(k))


@pytest.mark.parametrize("batch,inp,units", [(64, 1031, 529), (58, 2050, 300)])
def test_small_m_threads_bit_identical(rng, batch, inp, units):
    """Above the ~64 MFLOP at which a team of two forms: threads split the panels, each thread's first panel is
    packed without a prefetch, a partial last panel (529, 300 units) is packed first."""
    x = rng.standard_normal((batch, inp)).astype(np.float32)
    w = rng.standard_normal((inp, units)).astype(np.float32)
    bias = rng.standard_normal(units).astype(np.float32)
    dy = rng.standard_normal((batch, units)).astype(np.float32)
    out = []
    for n in (1, 2):
        with using_threads(n):
            y = _core.dense(x, w, bias, "relu")
            dx, _, _ = _core.dense_backward(x, w, y, dy, False, True, "relu", 0.0, False)
            out.append((y, dx))
    for one, two in zip(*out):
        np.testing.assert_array_equal(one, two)
    np.testing.assert_allclose(out[0][0], ref.dense(x, w, bias, "relu", 0.0), rtol=1e-5,
                               atol=1e-5 * np.sqrt(inp) * 4)

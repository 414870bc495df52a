"""Softmax's rows: short and long rows, odd lengths (vector tails), every row count through the kernel's pipeline
(one loop takes row k + 2's maximum, row k's exponentials and finishes row k - 2; the first and last two rows run
with a stage missing), in place, the exp of x - max near and past float32 underflow and its error against float64,
NaN and -inf, every ISA against scalar (bit-identical below one vector, where no lane reduction is involved),
threads 1 vs 2 bit-identical. Float64 reference from ref_activation."""
import numpy as np
import pytest

from convlite import _core

from helpers import simd_isas, using_isa, using_threads
import ref_activation as ref


@pytest.mark.parametrize("kind", ["softmax", "log_softmax"])
@pytest.mark.parametrize("d", [8, 9, 256, 2047, 2048, 2049, 3001])
def test_row_lengths(each_isa, rng, kind, d):
    x = (rng.standard_normal((3, d)) * 4).astype(np.float32)
    y = _core.activation(x, kind)
    # The row sum is accumulated in float32 blocks of 16 vectors (16 floats on the scalar tier).
    rtol = 2e-6
    np.testing.assert_allclose(y, ref.forward(kind, x), rtol=rtol, atol=4e-6 if kind == "log_softmax" else 2e-7)
    if kind == "softmax":
        np.testing.assert_allclose(y.astype(np.float64).sum(axis=-1), 1.0, rtol=rtol + 3e-6)


def test_long_rows_keep_the_sum_accurate(each_isa, rng):
    # A single running sum per lane added 2048 terms on 16384-wide rows (4.9e-6 on AVX2, 3.4e-5 on the scalar
    # tier); summing blocks first brings this to 7e-7 / 4.3e-6 (TensorFlow: ~5e-7 on 1000-wide rows).
    x = (rng.standard_normal((8, 16384)) * 5).astype(np.float32)
    y = _core.activation(x, "softmax")
    shifted = (x - x.max(axis=-1, keepdims=True)).astype(np.float64)  # float32 x - max, as every softmax rounds it
    expected = np.exp(shifted) / np.exp(shifted).sum(axis=-1, keepdims=True)
    rtol = 6e-6 if each_isa == "scalar" else 1.5e-6
    np.testing.assert_allclose(y, expected, rtol=rtol, atol=0)


def test_underflow_gives_exact_zero_and_tiny_normals_survive():
    # One dominant entry (row sum ~1): exp(-87) = 1.6e-38 is a normal float32 and survives; exp(-88) and below are
    # under 2^-126 and come out 0 (the kernels flush denormals), as do -104 (the clamp), -300 and -inf.
    x = np.array([[0.0, -87.0, -88.0, -103.0, -104.0, -300.0, -np.inf, -20.0, -30.0]], np.float32)
    y = _core.activation(x, "softmax")
    expected = ref.forward("softmax", x.astype(np.float64))
    assert np.all(y[0, 2:7] == 0.0)
    np.testing.assert_allclose(y[0, [0, 1, 7, 8]], expected[0, [0, 1, 7, 8]], rtol=2e-6, atol=0)
    assert y[0, 1] > 0


def test_nan_and_all_minus_inf_rows():
    x = np.array([[1.0, np.nan, 2.0, 0.5, 1.0, 1.0, 1.0, 1.0, 3.0],
                  [-np.inf] * 9,
                  [np.inf, 0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0]], np.float32)
    for kind in ("softmax", "log_softmax"):
        y = _core.activation(x, kind)
        assert np.all(np.isnan(y[0])) and np.all(np.isnan(y[1]))  # NaN spreads; -inf - -inf is NaN
        assert np.isnan(y[2, 0])  # inf - inf


@pytest.mark.parametrize("isa", simd_isas())
@pytest.mark.parametrize("d", [256, 13, 2500])
def test_simd_close_to_scalar(rng, isa, d):
    x = (rng.standard_normal((40, d)) * 6).astype(np.float32)
    x[::7, ::3] -= 95.0  # exponents near underflow
    with using_isa("scalar"):
        expected = [_core.activation(x, k) for k in ("softmax", "log_softmax")]
    with using_isa(isa):
        got = [_core.activation(x, k) for k in ("softmax", "log_softmax")]
    # The exponentials are bit-identical; only the lane order of the row sum differs between ISAs (the scalar tier
    # sums in one accumulator, so the difference grows with d).
    np.testing.assert_allclose(got[0], expected[0], rtol=max(2e-6, 4e-9 * d), atol=1e-30)
    np.testing.assert_allclose(got[1], expected[1], rtol=1e-6, atol=1e-5)
    np.testing.assert_array_equal(got[0] == 0, expected[0] == 0)


@pytest.mark.parametrize("d", [256, 2049])
def test_threads_give_identical_results(rng, d):
    x = (rng.standard_normal((2048 * 256 // d * 4, d)) * 3).astype(np.float32)
    with using_threads(1):
        one = [_core.activation(x, k) for k in ("softmax", "log_softmax")]
    with using_threads(2):
        two = [_core.activation(x, k) for k in ("softmax", "log_softmax")]
    for a, b in zip(one, two):
        np.testing.assert_array_equal(a, b)


# Max relative error through softmax rows [0, x], x - max from 0 down to the underflow edge: the kernels' exp of a
# non-positive argument (vexp_nonpositive_eighths: 2^(n/8) from a table, a degree-3 polynomial, 1.2e-7 alone) plus
# one division. Measured 2.09e-7 on these points (2.23e-7 on 2M points of the same range).
ACCURACY_SOFTMAX = 2.5e-7


def test_exp_error_against_float64(each_isa):
    x = np.linspace(-87.0, 0.0, 200_001).astype(np.float32)
    rows = np.stack([np.zeros_like(x), x], axis=1)
    y = _core.activation(rows, "softmax").astype(np.float64)
    expected = ref.forward("softmax", rows.astype(np.float64))
    assert np.max(np.abs(y - expected) / expected) <= ACCURACY_SOFTMAX


@pytest.mark.parametrize("kind", ["softmax", "log_softmax"])
@pytest.mark.parametrize("d", [1, 7, 9, 33, 257])
@pytest.mark.parametrize("rows", [1, 2, 3, 4, 5, 7])
def test_every_row_count_through_the_pipeline(each_isa, rng, kind, d, rows):
    # Rows of different scales and offsets, so a row finished with its neighbour's max or sum would show.
    x = (rng.standard_normal((rows, d)) * rng.uniform(0.5, 8.0, (rows, 1)) + rng.uniform(-50, 50, (rows, 1)))
    x = x.astype(np.float32)
    y = _core.activation(x, kind)
    np.testing.assert_allclose(y, ref.forward(kind, x), rtol=2e-6, atol=6e-6 if kind == "log_softmax" else 2e-7)
    inplace = x.copy()
    _core.activation(inplace, kind, out=inplace)
    np.testing.assert_array_equal(inplace, y)  # out=x: every stage reads an element before it is written


@pytest.mark.parametrize("isa", simd_isas())
@pytest.mark.parametrize("kind", ["softmax", "log_softmax"])
@pytest.mark.parametrize("d", [1, 2, 3, 5, 7])
def test_simd_bit_identical_to_scalar_below_one_vector(rng, isa, kind, d):
    # Shorter than a vector, a row is one partial vector whose lanes are added in order, as the scalar tier does:
    # the exponentials and everything else are the same operations, so the results must match bit for bit.
    x = (rng.standard_normal((64, d)) * 30).astype(np.float32)
    x[::5, 0] = -np.inf
    x[1::9, -1] -= 200.0  # past the underflow edge
    x[2, 0] = np.nan
    with using_isa("scalar"):
        expected = _core.activation(x, kind)
    with using_isa(isa):
        got = _core.activation(x, kind)
    np.testing.assert_array_equal(got.view(np.uint32), expected.view(np.uint32))

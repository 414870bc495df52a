"""sgemm against numpy float64: odd sizes (SIMD tails, partial tiles), transposes, every ISA, threads."""
import numpy as np
import pytest

from convlite import _core

from helpers import simd_isas, using_isa, using_threads

SIZES = [(1, 1, 1), (1, 17, 3), (6, 16, 1), (7, 17, 5), (13, 31, 29), (64, 64, 64), (97, 33, 130), (5, 200, 1)]


# Around the packed path's blocks: KC = 256 (K split into equal blocks), MC = 32 tiles of 6 rows, NR = 16, and
# the microkernel's k loop unrolled by 4 (tails of 1-3).
BLOCK_SIZES = [(193, 33, 257), (191, 17, 513), (7, 15, 1100), (200, 50, 255), (12, 31, 6), (25, 16, 4)]


@pytest.mark.parametrize("ta", [False, True])
@pytest.mark.parametrize("tb", [False, True])
@pytest.mark.parametrize("m,n,k", SIZES + BLOCK_SIZES)
def test_sgemm_matches_float64(each_isa, rng, m, n, k, ta, tb):
    a = rng.standard_normal((m, k)).astype(np.float32)
    b = rng.standard_normal((k, n)).astype(np.float32)
    got = _core.sgemm(np.ascontiguousarray(a.T) if ta else a, np.ascontiguousarray(b.T) if tb else b,
                      transpose_a=ta, transpose_b=tb)
    want = a.astype(np.float64) @ b.astype(np.float64)
    assert got.shape == (m, n) and got.dtype == np.float32
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5 * np.sqrt(k) * 4)


@pytest.mark.parametrize("beta", [0.0, 1.0, -0.5, 2.0])
@pytest.mark.parametrize("m,n,k", [(7, 17, 5), (13, 31, 1030), (1, 1, 1)])
def test_sgemm_beta_adds_scaled_c(each_isa, rng, m, n, k, beta):
    a = rng.standard_normal((m, k)).astype(np.float32)
    b = rng.standard_normal((k, n)).astype(np.float32)
    c = rng.standard_normal((m, n)).astype(np.float32)
    kept = c.copy()
    got = _core.sgemm(a, b, c=c, beta=beta)
    want = a.astype(np.float64) @ b + beta * c.astype(np.float64)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5 * np.sqrt(k) * 4)
    np.testing.assert_array_equal(c, kept)



def test_sgemm_beta_zero_ignores_nan_in_c(rng):
    c = np.full((3, 4), np.nan, np.float32)
    got = _core.sgemm(np.ones((3, 2), np.float32), np.ones((2, 4), np.float32), c=c, beta=0.0)
    np.testing.assert_array_equal(got, np.full((3, 4), 2.0, np.float32))
    with pytest.raises(ValueError, match=r"c.shape=\(4, 3\)"):
        _core.sgemm(np.ones((3, 2), np.float32), np.ones((2, 4), np.float32), c=np.zeros((4, 3), np.float32))


def test_sgemm_empty_inner_dimension_gives_zeros():
    c = _core.sgemm(np.zeros((3, 0), np.float32), np.zeros((0, 4), np.float32))
    np.testing.assert_array_equal(c, np.zeros((3, 4), np.float32))


@pytest.mark.parametrize("isa", simd_isas())
def test_simd_close_to_scalar(rng, isa):
    a = rng.standard_normal((301, 257)).astype(np.float32)
    b = rng.standard_normal((257, 77)).astype(np.float32)
    with using_isa("scalar"):
        want = _core.sgemm(a, b)
    with using_isa(isa):
        got = _core.sgemm(a, b)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-4)


def test_threads_are_bit_identical(rng):
    a = rng.standard_normal((300, 200)).astype(np.float32)
    b = rng.standard_normal((200, 150)).astype(np.float32)
    with using_threads(1):
        one = _core.sgemm(a, b, transpose_b=False)
    with using_threads(2):
        two = _core.sgemm(a, b, transpose_b=False)
    np.testing.assert_array_equal(one, two)


@pytest.mark.parametrize("m,n,k,ta,tb", [(400, 160, 600, False, False), (12, 2048, 1400, False, False),
                                         (401, 161, 600, True, False), (61, 1500, 701, False, True)])
def test_threads_bit_identical_across_blocks(rng, m, n, k, ta, tb):
    """Several MC and K blocks, or few rows (the small-M driver: threads split the B panels, a transposed B packed
    per micro-panel): one result for any thread count. The sizes are above the ~64 MFLOP at which a team of two
    forms."""
    a = rng.standard_normal((k, m) if ta else (m, k)).astype(np.float32)
    b = rng.standard_normal((n, k) if tb else (k, n)).astype(np.float32)
    c = rng.standard_normal((m, n)).astype(np.float32)
    out = []
    for threads in (1, 2):
        with using_threads(threads):
            out.append(_core.sgemm(a, b, transpose_a=ta, transpose_b=tb, c=c, beta=0.5))
    np.testing.assert_array_equal(out[0], out[1])
    want = (a.T if ta else a).astype(np.float64) @ (b.T if tb else b) + 0.5 * c.astype(np.float64)
    np.testing.assert_allclose(out[0], want, rtol=1e-5, atol=1e-5 * np.sqrt(k) * 4)


def test_sgemm_keeps_nan_and_inf(rng):
    a = rng.standard_normal((7, 9)).astype(np.float32)
    b = rng.standard_normal((9, 18)).astype(np.float32)
    a[2, 3] = np.nan
    b[4, 5] = np.inf
    c = _core.sgemm(a, b)
    assert np.isnan(c[2]).all()
    assert not np.isfinite(c[:, 5]).any()


@pytest.mark.parametrize("a_shape,b_shape,kw,text", [
    ((3, 4), (5, 6), {}, r"a.shape=\(3, 4\), b.shape=\(5, 6\)"),
    ((3, 4), (3, 6), {"transpose_b": True}, "transpose_b=True"),
    ((3,), (3, 6), {}, "a.shape"),
])
def test_sgemm_rejects_mismatched_shapes(a_shape, b_shape, kw, text):
    with pytest.raises(ValueError, match=text):
        _core.sgemm(np.zeros(a_shape, np.float32), np.zeros(b_shape, np.float32), **kw)


def test_sgemm_rejects_float64():
    with pytest.raises(TypeError, match="float64"):
        _core.sgemm(np.zeros((2, 2)), np.zeros((2, 2), np.float32))

"""Fuzzing convlite.nn's pooling (max/avg_pool1d/2d, pool) against tests/ref_pool.py: random shapes (0, 1, primes),
windows, strides (up to 2**20), 'SAME'/'VALID'/explicit padding, dtypes (floats, ints, bool) and layouts; invalid
cases must raise ValueError/TypeError naming what was received. Inputs are finite here (NaN order semantics of max
are covered in test_robust_nonfinite.py)."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import convlite.nn as nn
import ref_pool
import strategies as S
from helpers import address_space_cap


@pytest.fixture(autouse=True, scope="module")
def _fuzz_report(request):
    S.install_report(request.config)


_POOL_DTYPES = (np.float32, np.float64, np.float16, np.int32, np.int8, np.uint8, np.bool_)


def _pads(padding, sizes, ks, ss):
    if isinstance(padding, str):
        return [ref_pool.same_padding(n, k, s) if padding.upper() == "SAME" else (0, 0)
                for n, k, s in zip(sizes, ks, ss)]
    pairs = [tuple(p) for p in padding]
    return pairs[1:-1]


@st.composite
def _padding(draw, rank):
    if draw(st.integers(0, 3)) == 0:
        return [[0, 0], *[list(draw(st.tuples(st.integers(0, 3), st.integers(0, 3)))) for _ in range(rank)], [0, 0]]
    return draw(st.sampled_from(["SAME", "VALID", "same", "valid"]))


def _check(call, kind, x64, ks, ss, pads, sizes, expect_ok):
    if not expect_ok:
        with pytest.raises((ValueError, TypeError)) as info:
            call()
        assert "Received" in str(info.value), str(info.value)
        return
    y = call()
    assert isinstance(y, np.ndarray) and y.dtype == np.float32
    x4 = x64 if len(sizes) == 2 else x64[:, None]
    ks4, ss4 = (ks, ss) if len(sizes) == 2 else ((1, ks[0]), (1, ss[0]))
    flat = tuple(v for p in ([(0, 0)] if len(sizes) == 1 else []) + list(pads) for v in p)
    ref = ref_pool.max_pool2d(x4, ks4, ss4, flat)[0] if kind == "MAX" else ref_pool.avg_pool2d(x4, ks4, ss4, flat)
    if len(sizes) == 1:
        ref = ref[:, 0]
    assert y.shape == ref.shape
    np.testing.assert_allclose(y, ref.astype(np.float32), rtol=2e-6, atol=1e-6)


def _valid(sizes, ks, ss, pads):
    return all(n >= 1 and a < k and b < k and n + a + b >= k for n, k, (a, b) in zip(sizes, ks, pads))


@S.fuzz(1100)
@given(st.data())
def test_pool2d(data):
    S.record("nn.pool2d")
    draw = data.draw
    n, h, w, c = draw(S.batch_sizes), draw(S.spatial_sizes), draw(S.spatial_sizes), draw(S.channel_counts)
    c = 0 if draw(st.integers(0, 15)) == 0 else c
    ks = [draw(S.kernel_sizes) for _ in range(2)]
    ss = [draw(S.strides) for _ in range(2)]
    padding = draw(_padding(2))
    pads = _pads(padding, (h, w), ks, ss)
    kind = draw(st.sampled_from(["MAX", "AVG"]))
    x, x64 = draw(S.float_arrays((n, h, w, c), dtypes=_POOL_DTYPES))
    fn = nn.max_pool2d if kind == "MAX" else nn.avg_pool2d
    _check(lambda: fn(x, draw(S.spelled(ks, 2)), draw(S.spelled(ss, 2)), padding), kind, x64, ks, ss, pads, (h, w),
           _valid((h, w), ks, ss, pads))


@S.fuzz(500)
@given(st.data())
def test_pool1d(data):
    S.record("nn.pool1d")
    draw = data.draw
    n, width, c = draw(S.batch_sizes), draw(S.spatial_sizes), draw(S.channel_counts)
    ks, ss = [draw(S.kernel_sizes)], [draw(S.strides)]
    padding = draw(_padding(1))
    pads = _pads(padding, (width,), ks, ss)
    kind = draw(st.sampled_from(["MAX", "AVG"]))
    x, x64 = draw(S.float_arrays((n, width, c), dtypes=_POOL_DTYPES))
    fn = nn.max_pool1d if kind == "MAX" else nn.avg_pool1d
    _check(lambda: fn(x, draw(S.spelled(ks, 1)), draw(S.spelled(ss, 1)), padding), kind, x64, ks, ss, pads,
           (width,), _valid((width,), ks, ss, pads))


@S.fuzz(500)
@given(st.data())
def test_pool_generic(data):
    """tf.nn.pool: window_shape of rank 1 or 2, strides default 1 and never above the window."""
    S.record("nn.pool")
    draw = data.draw
    rank = draw(st.sampled_from([1, 2]))
    sizes = [draw(S.spatial_sizes) for _ in range(rank)]
    ks = [draw(S.kernel_sizes) for _ in range(rank)]
    ss = [draw(st.integers(1, 4)) for _ in range(rank)]
    padding = draw(st.sampled_from(["SAME", "VALID"]))
    pads = _pads(padding, sizes, ks, ss)
    kind = draw(st.sampled_from(["MAX", "AVG", "max", "avg"])).upper()
    x, x64 = draw(S.float_arrays((2, *sizes, 3)))
    ok = _valid(sizes, ks, ss, pads) and all(s <= k for s, k in zip(ss, ks))
    _check(lambda: nn.pool(x, ks, kind, strides=ss, padding=padding), kind, x64, ks, ss, pads, sizes, ok)


_POOL_OPS = {
    "max_pool2d": lambda x, k, s, p, fmt: nn.max_pool2d(x, k, s, p, data_format=fmt or "NHWC"),
    "avg_pool2d": lambda x, k, s, p, fmt: nn.avg_pool2d(x, k, s, p, data_format=fmt or "NHWC"),
    "max_pool1d": lambda x, k, s, p, fmt: nn.max_pool1d(x, k, s, p, data_format=fmt or "NWC"),
    "avg_pool1d": lambda x, k, s, p, fmt: nn.avg_pool1d(x, k, s, p, data_format=fmt or "NWC"),
    "pool": lambda x, k, s, p, fmt: nn.pool(x, k, "MAX", strides=s, padding=p, data_format=fmt),
}


@S.fuzz(1000)
@given(st.data())
def test_hostile_pool_arguments_are_rejected_cleanly(data):
    S.record("nn.pool hostile")
    draw = data.draw
    name = draw(st.sampled_from(sorted(_POOL_OPS)))
    rank = 1 if name.endswith("1d") else 2
    x = np.random.default_rng(0).standard_normal((2,) + (5,) * rank + (3,)).astype(np.float32)
    if draw(st.booleans()):
        x = draw(S.hostile_arrays(rank + 2))
    ksize = draw(S.hostile_ints) if draw(st.booleans()) else [2] * rank
    strides = draw(S.hostile_ints) if draw(st.booleans()) else 1
    padding = draw(S.hostile_paddings) if draw(st.booleans()) else "VALID"
    fmt = draw(S.hostile_formats) if draw(st.integers(0, 3)) == 0 else None
    try:
        with address_space_cap():  # a legal but gigantic padding is refused here rather than computed
            y = _POOL_OPS[name](x, ksize, strides, padding, fmt)
    except (ValueError, TypeError) as err:
        assert "Received" in str(err), f"{name}: {err}"
    except MemoryError:
        pass
    else:
        assert isinstance(y, np.ndarray) and y.dtype == np.float32

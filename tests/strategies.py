"""Hypothesis strategies for the fuzz tests (tests/test_fuzz_*.py) and the counter that reports how many cases ran.

Array values come from a drawn seed (fast, and every failure reproduces from the printed example); hypothesis draws
the shapes, dtypes, memory layouts and argument spellings, where shrinking matters. Settings are derandomized and
database-free, so a CI run is deterministic. ``CONVLITE_FUZZ_SCALE=10`` multiplies every budget for a longer hunt.
"""
from __future__ import annotations

import collections
import os

import numpy as np
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

FUZZ_SCALE = float(os.environ.get("CONVLITE_FUZZ_SCALE", "1"))
CASES: collections.Counter = collections.Counter()

FLOAT_DTYPES = (np.float32, np.float64, np.float16)
OTHER_DTYPES = (np.int8, np.int32, np.int64, np.uint8, np.bool_, np.complex64, object, np.str_)
LAYOUTS = ("contiguous", "fortran", "strided", "negative", "readonly", "list")


def fuzz(max_examples: int):
    """Settings for one fuzz test: a fixed budget, deterministic, no deadline (the CI machine is shared)."""
    return settings(max_examples=max(1, int(max_examples * FUZZ_SCALE)), deadline=None, derandomize=True,
                    database=None, suppress_health_check=list(HealthCheck), print_blob=False)


def record(family: str) -> None:
    """Count one fuzz case of `family` (shown in pytest's terminal summary)."""
    CASES[family] += 1


class _FuzzReport:
    def pytest_terminal_summary(self, terminalreporter):
        if CASES:
            detail = ", ".join(f"{name}: {n}" for name, n in sorted(CASES.items()))
            terminalreporter.write_sep("-", f"convlite fuzz: {sum(CASES.values())} cases run")
            terminalreporter.write_line(detail)


def install_report(config) -> None:
    """Register the terminal-summary reporter once per session (called from each fuzz module's fixture)."""
    if not config.pluginmanager.has_plugin("convlite-fuzz-report"):
        config.pluginmanager.register(_FuzzReport(), "convlite-fuzz-report")


# ---- sizes -------------------------------------------------------------------------------------------------------
# 0 (empty), 1, primes and a power of two; zeros are rare enough that most cases compute something.
spatial_sizes = st.sampled_from([0, 1, 1, 2, 3, 4, 5, 7, 8, 11, 13])
batch_sizes = st.sampled_from([0, 1, 1, 2, 3])
channel_counts = st.sampled_from([1, 1, 2, 3, 4, 5, 7])
kernel_sizes = st.sampled_from([1, 1, 2, 3, 3, 4, 5])
strides = st.sampled_from([1, 1, 1, 2, 2, 3, 4, 7, 100, 2**20])
dilations = st.sampled_from([1, 1, 1, 2, 3, 5, 1000])


def values(rng: np.random.Generator, shape, kind: str) -> np.ndarray:
    """float64 test data: normal, small integers (exact in every dtype, with ties), or sparse with exact zeros."""
    if kind == "integers":
        return rng.integers(-4, 5, size=shape).astype(np.float64)
    x = rng.standard_normal(shape)
    if kind == "sparse":
        x[rng.random(shape) < 0.6] = 0.0
    return x


@st.composite
def float_arrays(draw, shape, dtypes=FLOAT_DTYPES, layouts=LAYOUTS):
    """(array-like passed to the op, float64 values it holds) with a random float dtype and memory layout."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    kind = draw(st.sampled_from(["normal", "normal", "integers", "sparse"]))
    dtype = draw(st.sampled_from(dtypes))
    arr = values(rng, shape, kind).astype(dtype)
    layout = draw(st.sampled_from(layouts))
    return with_layout(arr, layout), arr.astype(np.float64)


def with_layout(arr: np.ndarray, layout: str):
    """The same values in another memory layout: Fortran order, a strided view, negative strides, read-only, or a
    nested list."""
    if layout == "fortran":
        return np.asfortranarray(arr)
    if layout == "strided" and arr.ndim:
        big = np.zeros(arr.shape[:-1] + (2 * arr.shape[-1] + 1,), arr.dtype)
        big[..., 1::2] = arr
        return big[..., 1::2]
    if layout == "negative" and arr.ndim:
        axis = arr.ndim - 1 if arr.ndim < 2 else 1
        return np.flip(np.ascontiguousarray(np.flip(arr, axis)), axis)
    if layout == "readonly":
        ro = arr.copy()
        ro.flags.writeable = False
        return ro
    if layout == "list" and 0 < arr.size <= 512 and arr.dtype != np.float16:  # an empty list loses the shape
        return arr.tolist()
    return np.ascontiguousarray(arr)


@st.composite
def spelled(draw, vals, rank: int, full: bool = True):
    """One of tf.nn's spellings of per-axis ints: int, [v], [v0, v1], (v0, v1), [1, v0, v1, 1], numpy ints."""
    vals = list(vals)
    forms = ["list", "tuple", "numpy"]
    if len(set(vals)) == 1:
        forms += ["int", "one", "npint"]
    if full:
        forms.append("full")
    form = draw(st.sampled_from(forms))
    if form == "int":
        return vals[0]
    if form == "npint":
        return np.int64(vals[0])
    if form == "one":
        return [vals[0]]
    if form == "tuple":
        return tuple(vals)
    if form == "numpy":
        return np.array(vals)
    if form == "full":
        return [1, *vals, 1]
    return vals


# Hostile argument values: wrong types, out-of-range ints (including beyond int64), wrong lengths. Sizes are either
# tiny or gigantic, never a few GB, so no accepted case can allocate or compute for long.
hostile_ints = st.sampled_from([0, -1, -(2**63), 2**31, 2**40 + 1, 2**63, 2**70, True, 1.5, float("nan"),
                                float("inf"), "2", "12", b"1", None, [], [1, 2, 3], [0, 1], [2, 2, 2, 2],
                                [1, 1, 1], [[1]], [1.5, 1], [None, 1], (np.int64(2), np.float32(1)), object(),
                                {"a": 1}, np.array([[1, 1]]), 1, 2, [1, 2], np.int32(3), range(1, 3)])
hostile_paddings = st.sampled_from(["SAME", "VALID", "same", "Causal", "FULL", "bogus", "", None, 0, 1, -1, 2**70,
                                    [[0, 0], [1, 1], [1, 1], [0, 0]], [[0, 0], [-1, 1], [1, 1], [0, 0]],
                                    [[1, 0], [1, 1], [1, 1], [0, 0]], [[0, 0], [2**70, 0], [0, 0], [0, 0]],
                                    [[0, 0], [2**40, 2**40], [2**40, 2**40], [0, 0]], [[0, 0], [1, 1], [0, 0]],
                                    [(1, 1), (1, 1)], [[1.5, 1], [1, 1]], [[1, 2, 3], [1, 1]], [1, 2], "SAME\0",
                                    [[0, 0], [0, 0]], [[0, 0], [2**31, 0], [0, 0], [0, 0]], object()])
hostile_formats = st.sampled_from([None, "NHWC", "NWC", "NCHW", "NCW", "channels_first", "", 0, b"NHWC"])


@st.composite
def hostile_arrays(draw, ndim: int):
    """Arrays and non-arrays that an op should reject cleanly (or accept, if they are in fact valid)."""
    kind = draw(st.sampled_from(["dtype", "ndim", "none", "scalar", "string", "ragged", "zero-stride", "empty",
                                 "nan"]))
    shape = tuple(draw(st.lists(st.integers(0, 4), min_size=ndim, max_size=ndim)))
    if kind == "dtype":
        dtype = draw(st.sampled_from(OTHER_DTYPES))
        return np.ones(shape, dtype=dtype)
    if kind == "ndim":
        return np.ones(shape[:draw(st.integers(0, max(ndim - 1, 0)))] + (2,) * draw(st.integers(0, 2)), np.float32)
    if kind == "none":
        return None
    if kind == "scalar":
        return draw(st.sampled_from([1.0, np.float32(2), 3, True]))
    if kind == "string":
        return draw(st.sampled_from(["abc", b"abc", np.array(["a", "b"])]))
    if kind == "ragged":
        return [[1.0, 2.0], [3.0]]
    if kind == "zero-stride":
        return np.broadcast_to(np.float32(1), tuple(s or 1 for s in shape))
    if kind == "nan":
        return np.full(shape, np.nan, np.float32)
    return np.zeros((0,) * ndim, np.float32)

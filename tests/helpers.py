"""Helpers shared by the tests: run code under a given ISA or thread count, import TensorFlow or skip, compare
float32 results with a scale-aware tolerance."""
from __future__ import annotations

import contextlib
import os

import numpy as np
import pytest

import convlite
from convlite import _core

AVAILABLE_ISAS = convlite.available_isas()

@contextlib.contextmanager
def using_isa(name: str):
    """Run the body with kernels of tier `name`, restoring the previous tier afterwards."""
    previous = _core.active_isa()
    _core.set_isa(name)
    try:
        yield name
    finally:
        _core.set_isa(previous)


@contextlib.contextmanager
def using_threads(n: int):
    previous = convlite.get_num_threads()
    convlite.set_num_threads(n)
    try:
        yield n
    finally:
        convlite.set_num_threads(previous)


def simd_isas() -> list[str]:
    return [isa for isa in AVAILABLE_ISAS if isa != "scalar"]


def tensorflow_or_skip():
    """Import TensorFlow for a parity test; skip with the reason only where it cannot be installed."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    return pytest.importorskip("tensorflow", reason="tensorflow-cpu is not installable on this platform")


def close(got, want, tol=2e-5):
    """allclose with rtol `tol` and an absolute floor of `tol` times the reference's scale (at least 1): float32
    sums of many terms are judged against the size of the result, not of each element."""
    want = np.asarray(want)
    scale = max(1.0, float(np.abs(want).max(initial=0.0)))
    np.testing.assert_allclose(got, want, rtol=tol, atol=tol * scale)


@contextlib.contextmanager
def address_space_cap(extra_bytes: int = 2 << 30):
    """Caps this process's address space at its current size plus `extra_bytes` (Linux; elsewhere a no-op), so
    a legal but gigantic request — a hostile padding of 2**31 makes an 11 GB output that the op would dutifully
    compute — fails fast with MemoryError instead of filling the CI machine's memory for minutes."""
    try:
        import resource

        with open("/proc/self/statm") as f:
            size = int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except (ImportError, OSError, ValueError):
        yield
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    cap = size + extra_bytes
    if hard != resource.RLIM_INFINITY:
        cap = min(cap, hard)
    resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))

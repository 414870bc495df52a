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

"""Shared pieces of the Winograd tests (test_conv_winograd.py, test_conv_winograd_wgrad.py): the route switch and the
routes forcing each tile size, 3x3 paddings by mode, a seeded case and the error measure both files hold to 1e-5 of
the output's scale."""
from __future__ import annotations

import contextlib

import numpy as np

from convlite import _core

import ref_conv as ref

TOL = 1e-5
TILES = ("winograd2", "winograd4")  # Winograd forced with output tiles of 2x2 / 4x4


@contextlib.contextmanager
def using_algorithm(name):
    previous = _core.get_conv_algorithm()
    _core.set_conv_algorithm(name)
    try:
        yield
    finally:
        _core.set_conv_algorithm(previous)


def pads(h, w, mode):
    if isinstance(mode, tuple):
        return mode
    top, bottom = ref.pads_for(h, 3, 1, 1, mode)
    left, right = ref.pads_for(w, 3, 1, 1, mode)
    return top, bottom, left, right


def make(rng, batch, h, w, c, f):
    x = rng.standard_normal((batch, h, w, c)).astype(np.float32)
    k = (rng.standard_normal((3, 3, c, f)) / np.sqrt(9 * c)).astype(np.float32)
    bias = rng.standard_normal(f).astype(np.float32)
    return x, k, bias


def rel_error(got, want):
    return float(np.max(np.abs(got.astype(np.float64) - want)) / max(np.max(np.abs(want)), 1e-30))

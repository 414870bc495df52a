"""Shared pieces of the direct small-conv tests (test_conv_small.py, test_conv_direct.py): a case is
(batch, h, w, c_in, filters, kh, kw, strides, padding mode or explicit (top, bottom, left, right))."""
from __future__ import annotations

import numpy as np

import ref_conv as ref


def pads(case):
    _, h, w, _, _, kh, kw, st, mode = case
    if not isinstance(mode, str):
        return mode
    top, bottom = ref.pads_for(h, kh, st[0], 1, "valid" if mode == "causal" else mode)
    left, right = ref.pads_for(w, kw, st[1], 1, mode)
    return top, bottom, left, right


def make(rng, case):
    b, h, w, c, f, kh, kw = case[:7]
    x = rng.standard_normal((b, h, w, c)).astype(np.float32)
    k = (rng.standard_normal((kh, kw, c, f)) / np.sqrt(kh * kw * c)).astype(np.float32)
    bias = rng.standard_normal(f).astype(np.float32)
    return x, k, bias

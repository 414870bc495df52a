"""float64 numpy references for the model-level layers (conv via explicit loops over the kernel taps)."""
from __future__ import annotations

import numpy as np


def conv2d_ref(x, w, bias, strides, dilation, pads):
    """NHWC cross-correlation; pads = (top, bottom, left, right); w (kh, kw, C_in, F)."""
    x = np.pad(np.asarray(x, np.float64), ((0, 0), pads[:2], pads[2:], (0, 0)))
    kh, kw, _, f = w.shape
    sh, sw = strides
    dh, dw = dilation
    oh = (x.shape[1] - dh * (kh - 1) - 1) // sh + 1
    ow = (x.shape[2] - dw * (kw - 1) - 1) // sw + 1
    y = np.zeros((x.shape[0], oh, ow, f))
    for i in range(kh):
        for j in range(kw):
            patch = x[:, i * dh: i * dh + sh * (oh - 1) + 1: sh, j * dw: j * dw + sw * (ow - 1) + 1: sw, :]
            y += patch @ np.asarray(w[i, j], np.float64)
    return y + (0 if bias is None else bias)


def pool2d_ref(x, pool, strides, pads, mode):
    """Max ignores padding, average excludes padded cells from the divisor (TensorFlow)."""
    x = np.asarray(x, np.float64)
    n, h, w, c = x.shape
    oh = (h + pads[0] + pads[1] - pool[0]) // strides[0] + 1
    ow = (w + pads[2] + pads[3] - pool[1]) // strides[1] + 1
    y = np.zeros((n, oh, ow, c))
    for i in range(oh):
        for j in range(ow):
            h0, w0 = i * strides[0] - pads[0], j * strides[1] - pads[2]
            window = x[:, max(h0, 0):min(h0 + pool[0], h), max(w0, 0):min(w0 + pool[1], w), :]
            y[:, i, j] = window.max(axis=(1, 2)) if mode == "max" else window.mean(axis=(1, 2))
    return y

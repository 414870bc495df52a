"""Float64 numpy references for pooling and shape ops (NHWC, TensorFlow semantics), written for clarity."""
from __future__ import annotations

import numpy as np


def same_padding(n, k, s):
    """TensorFlow's 'same': (before, after) with the extra cell at the end."""
    out = -(-n // s)
    total = max((out - 1) * s + k - n, 0)
    return total // 2, total - total // 2


def pool_padding(shape_hw, pool, strides, padding):
    """'valid' / 'same' / explicit (t, b, l, r) -> (t, b, l, r)."""
    if padding == "valid":
        return (0, 0, 0, 0)
    if padding == "same":
        return same_padding(shape_hw[0], pool[0], strides[0]) + same_padding(shape_hw[1], pool[1], strides[1])
    return tuple(padding)


def windows(in_h, in_w, pool, strides, pads):
    """Yield (oh, ow, rows, cols) with the valid (unpadded) input rows and columns of each window."""
    t, b, l, r = pads
    out_h = (in_h + t + b - pool[0]) // strides[0] + 1
    out_w = (in_w + l + r - pool[1]) // strides[1] + 1
    for oh in range(out_h):
        hs = oh * strides[0] - t
        rows = range(max(hs, 0), min(hs + pool[0], in_h))
        for ow in range(out_w):
            ws = ow * strides[1] - l
            yield oh, ow, rows, range(max(ws, 0), min(ws + pool[1], in_w))


def out_hw(in_h, in_w, pool, strides, pads):
    t, b, l, r = pads
    return (in_h + t + b - pool[0]) // strides[0] + 1, (in_w + l + r - pool[1]) // strides[1] + 1


def max_pool2d(x, pool, strides, pads):
    """Returns (y, argmax): argmax is the flat input pixel h*W + w of the first maximum in row-major order."""
    x = np.asarray(x, np.float64)
    n, in_h, in_w, c = x.shape
    oh_n, ow_n = out_hw(in_h, in_w, pool, strides, pads)
    y = np.zeros((n, oh_n, ow_n, c))
    arg = np.zeros((n, oh_n, ow_n, c), np.int64)
    for oh, ow, rows, cols in windows(in_h, in_w, pool, strides, pads):
        cells = [(h, w) for h in rows for w in cols]
        vals = np.stack([x[:, h, w, :] for h, w in cells], axis=0)  # (cells, n, c)
        first = np.argmax(vals, axis=0)
        y[:, oh, ow, :] = np.max(vals, axis=0)
        flat = np.array([h * in_w + w for h, w in cells])
        arg[:, oh, ow, :] = flat[first]
    return y, arg


def max_pool2d_backward(argmax, dy, input_shape):
    n, in_h, in_w, c = input_shape
    dx = np.zeros((n, in_h * in_w, c))
    dy = np.asarray(dy, np.float64)
    for b in range(n):
        for idx in np.ndindex(dy.shape[1:3]):
            for ch in range(c):
                dx[b, argmax[(b,) + idx + (ch,)], ch] += dy[(b,) + idx + (ch,)]
    return dx.reshape(input_shape)


def avg_pool2d(x, pool, strides, pads):
    x = np.asarray(x, np.float64)
    n, in_h, in_w, c = x.shape
    y = np.zeros((n,) + out_hw(in_h, in_w, pool, strides, pads) + (c,))
    for oh, ow, rows, cols in windows(in_h, in_w, pool, strides, pads):
        y[:, oh, ow, :] = x[:, rows.start:rows.stop, cols.start:cols.stop, :].mean(axis=(1, 2))
    return y


def avg_pool2d_backward(dy, input_shape, pool, strides, pads):
    n, in_h, in_w, c = input_shape
    dx = np.zeros(input_shape)
    dy = np.asarray(dy, np.float64)
    for oh, ow, rows, cols in windows(in_h, in_w, pool, strides, pads):
        count = len(rows) * len(cols)
        dx[:, rows.start:rows.stop, cols.start:cols.stop, :] += dy[:, oh, ow, None, None, :] / count
    return dx


def zero_pad2d(x, pads):
    t, b, l, r = pads
    return np.pad(np.asarray(x, np.float64), ((0, 0), (t, b), (l, r), (0, 0)))


def upsample2d(x, size):
    return np.repeat(np.repeat(np.asarray(x, np.float64), size[0], axis=1), size[1], axis=2)


def upsample2d_backward(dy, size):
    dy = np.asarray(dy, np.float64)
    n, h, w, c = dy.shape
    return dy.reshape(n, h // size[0], size[0], w // size[1], size[1], c).sum(axis=(2, 4))

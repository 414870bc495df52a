"""Float64 numpy references for the convolution family (conv2d with groups, depthwise, dense) and gradients.

Written for clarity: the convolution is a loop over kernel taps of strided slices of the zero-padded input.
Layouts are Keras's: x NHWC, conv kernel (kh, kw, C_in/groups, F), depthwise kernel (kh, kw, C, dm).
"""
from __future__ import annotations

import numpy as np


def pads_for(n, kernel, stride, dilation, mode):
    """Per-side pads (before, after) for one axis: valid, same (TF split), causal, full."""
    k_eff = dilation * (kernel - 1) + 1
    if mode == "valid":
        return 0, 0
    if mode == "same":
        out = -(-n // stride)
        total = max((out - 1) * stride + k_eff - n, 0)
        return total // 2, total - total // 2
    if mode == "causal":
        return k_eff - 1, 0
    if mode == "full":
        return k_eff - 1, k_eff - 1
    raise ValueError(mode)


def activation(z, name="linear", negative_slope=0.0):
    if name == "relu":
        return np.maximum(z, 0.0)
    if name == "leaky_relu":
        return np.where(z > 0, z, negative_slope * z)
    return z


def activation_mask(y, name="linear", negative_slope=0.0):
    """d act / dz expressed through the output y (exact for relu and leaky relu with a positive slope)."""
    if name == "relu":
        return (y > 0).astype(np.float64)
    if name == "leaky_relu":
        return np.where(y > 0, 1.0, negative_slope)
    return np.ones_like(y, dtype=np.float64)


def _out_size(n, k, s, d, before, after):
    return (n + before + after - d * (k - 1) - 1) // s + 1


def _tap_slices(shape, kh, kw, strides, dilations, padding):
    _, h, w_, _ = shape
    top, bottom, left, right = padding
    oh = _out_size(h, kh, strides[0], dilations[0], top, bottom)
    ow = _out_size(w_, kw, strides[1], dilations[1], left, right)
    for i in range(kh):
        for j in range(kw):
            r0, c0 = i * dilations[0], j * dilations[1]
            yield i, j, (slice(None), slice(r0, r0 + (oh - 1) * strides[0] + 1, strides[0]),
                         slice(c0, c0 + (ow - 1) * strides[1] + 1, strides[1]), slice(None)), oh, ow


def _pad(x, padding):
    top, bottom, left, right = padding
    return np.pad(np.asarray(x, np.float64), ((0, 0), (top, bottom), (left, right), (0, 0)))


def conv2d(x, w, bias=None, strides=(1, 1), dilations=(1, 1), padding=(0, 0, 0, 0), groups=1,
           act="linear", negative_slope=0.0):
    """y = act(conv(x, w) + bias) in float64; cross-correlation, TF semantics."""
    xp = _pad(x, padding)
    w = np.asarray(w, np.float64)
    kh, kw, cg, f = w.shape
    fg = f // groups
    y = None
    for i, j, sl, oh, ow in _tap_slices(x.shape, kh, kw, strides, dilations, padding):
        patch = xp[sl]
        if y is None:
            y = np.zeros((x.shape[0], oh, ow, f))
        for g in range(groups):
            y[..., g * fg:(g + 1) * fg] += patch[..., g * cg:(g + 1) * cg] @ w[i, j, :, g * fg:(g + 1) * fg]
    if bias is not None:
        y = y + np.asarray(bias, np.float64)
    return activation(y, act, negative_slope)


def conv2d_grads(x, w, dy, strides=(1, 1), dilations=(1, 1), padding=(0, 0, 0, 0), groups=1, y=None,
                 act="linear", negative_slope=0.0):
    """(dx, dw, db) of conv2d given dL/dy (and the forward output y when an activation is fused)."""
    dz = np.asarray(dy, np.float64)
    if act != "linear":
        dz = dz * activation_mask(y, act, negative_slope)
    xp = _pad(x, padding)
    w = np.asarray(w, np.float64)
    kh, kw, cg, f = w.shape
    fg = f // groups
    dxp = np.zeros_like(xp)
    dw = np.zeros_like(w)
    for i, j, sl, _, _ in _tap_slices(x.shape, kh, kw, strides, dilations, padding):
        patch = xp[sl]
        for g in range(groups):
            cs, fs = slice(g * cg, (g + 1) * cg), slice(g * fg, (g + 1) * fg)
            dw[i, j, :, fs] += np.einsum("bhwc,bhwf->cf", patch[..., cs], dz[..., fs])
            dxp[sl][..., cs] += dz[..., fs] @ w[i, j, :, fs].T
    top, bottom, left, right = padding
    dx = dxp[:, top:top + x.shape[1], left:left + x.shape[2], :]
    return dx, dw, dz.sum(axis=(0, 1, 2))


def depthwise_as_grouped(w):
    """A depthwise kernel (kh, kw, C, dm) as the equivalent grouped conv kernel (kh, kw, 1, C*dm)."""
    kh, kw, c, dm = w.shape
    return np.asarray(w, np.float64).reshape(kh, kw, 1, c * dm)


def depthwise2d(x, w, bias=None, strides=(1, 1), dilations=(1, 1), padding=(0, 0, 0, 0), act="linear",
                negative_slope=0.0):
    return conv2d(x, depthwise_as_grouped(w), bias, strides, dilations, padding, groups=w.shape[2], act=act,
                  negative_slope=negative_slope)


def depthwise2d_grads(x, w, dy, strides=(1, 1), dilations=(1, 1), padding=(0, 0, 0, 0), y=None, act="linear",
                      negative_slope=0.0):
    dx, dw, db = conv2d_grads(x, depthwise_as_grouped(w), dy, strides, dilations, padding, groups=w.shape[2], y=y,
                              act=act, negative_slope=negative_slope)
    return dx, dw.reshape(w.shape), db


def dense(x, w, bias=None, act="linear", negative_slope=0.0):
    y = np.asarray(x, np.float64) @ np.asarray(w, np.float64)
    if bias is not None:
        y = y + np.asarray(bias, np.float64)
    return activation(y, act, negative_slope)


def dense_grads(x, w, dy, y=None, act="linear", negative_slope=0.0):
    dz = np.asarray(dy, np.float64)
    if act != "linear":
        dz = dz * activation_mask(y, act, negative_slope)
    x, w = np.asarray(x, np.float64), np.asarray(w, np.float64)
    return dz @ w.T, x.T @ dz, dz.sum(axis=0)

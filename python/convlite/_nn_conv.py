"""Stateless convolution ops shaped like ``tf.nn``: conv1d, conv2d, depthwise_conv2d, separable_conv2d, bias_add.

Inputs may be any real floating array (numpy or anything ``np.asarray`` accepts); they are computed in float32
and numpy float32 arrays come back. Layout is channels-last only (NWC / NHWC), kernels in TF/Keras layout.
Besides TF's ``'SAME'``/``'VALID'`` and explicit per-side pads, :func:`resolve_padding` gives layers the
``causal`` and ``full`` modes. Gradients are available through ``convlite._core.*_backward``.

Accepted beyond what tf.nn takes (tf.nn raises on these): padding strings in any case (``'same'``) and
``'causal'`` / ``'full'``; explicit padding as one (before, after) pair per spatial axis (``[[1, 1], [2, 0]]``),
besides tf's full list with the batch and channel pairs (which must be ``[0, 0]``).
"""
from __future__ import annotations

import numbers
import operator

import numpy as np

from . import _core

__all__ = ["bias_add", "conv1d", "conv2d", "depthwise_conv2d", "resolve_padding", "separable_conv2d"]

_MODES = ("valid", "same", "causal", "full")


def resolve_padding(size: int, kernel: int, stride: int = 1, dilation: int = 1, mode="valid") -> tuple[int, int]:
    """Pads ``(before, after)`` for one spatial axis.

    ``mode`` is ``'valid'``, ``'same'`` (TF split: the extra pad goes at the end), ``'causal'`` (``d*(k-1)``
    before, nothing after), ``'full'`` (``d*(k-1)`` on both sides), an int (that many on both sides) or a pair
    ``(before, after)``. Strings are case-insensitive.
    """
    for name, value in (("size", size), ("kernel", kernel), ("stride", stride), ("dilation", dilation)):
        if isinstance(value, bool) or not isinstance(value, numbers.Integral):
            raise TypeError(f"`{name}` must be an int. Received: {name}={value!r}")
    for name, value in (("kernel", kernel), ("stride", stride), ("dilation", dilation)):
        if value < 1:
            raise ValueError(f"`{name}` must be a positive integer. Received: {name}={value}")
    k_eff = dilation * (kernel - 1) + 1
    if isinstance(mode, str):
        m = mode.lower()
        if m == "valid":
            return 0, 0
        if m == "same":
            out = -(-size // stride)
            total = max((out - 1) * stride + k_eff - size, 0)
            return total // 2, total - total // 2
        if m == "causal":
            return k_eff - 1, 0
        if m == "full":
            return k_eff - 1, k_eff - 1
        raise ValueError(f"`padding` must be one of {_MODES}, an int or a pair of ints. Received: padding={mode!r}")
    if isinstance(mode, numbers.Integral) and not isinstance(mode, bool):
        pair = (int(mode), int(mode))
    else:
        try:
            pair = tuple(int(v) for v in mode)
        except (TypeError, ValueError):
            raise ValueError(f"`padding` must be one of {_MODES}, an int or a pair of ints. "
                             f"Received: padding={mode!r}") from None
        if len(pair) != 2:
            raise ValueError(f"An explicit padding must be a pair (before, after). Received: padding={mode!r}")
    if min(pair) < 0:
        raise ValueError(f"Explicit padding must be non-negative. Received: padding={mode!r}")
    return pair


_MAX_SIZE = 2**40  # the bindings' bound on a stride or a pad; larger Python ints would not even fit in int64


def _index(value) -> int:
    """``operator.index`` (ints and numpy ints only: 1.5 or '3' must not pass as an int)."""
    if isinstance(value, (bool, np.bool_)):
        raise TypeError("bool is not an int here")
    return operator.index(value)


def _as_float32(value, name: str) -> np.ndarray:
    try:
        arr = np.asarray(value)
    except (TypeError, ValueError):  # ragged nesting and the like
        raise TypeError(f"`{name}` must be a floating-point array. Received: {name} of type "
                        f"{type(value).__name__}") from None
    if not np.issubdtype(arr.dtype, np.floating):
        raise TypeError(f"`{name}` must be a floating-point array. Received: {name}.dtype={arr.dtype}")
    return np.ascontiguousarray(arr, dtype=np.float32)


def _check_ndim(arr: np.ndarray, ndim: int, name: str, layout: str):
    if arr.ndim != ndim:
        raise ValueError(f"`{name}` must be a {ndim}-D array ({layout}). Received: {name}.shape={arr.shape}")


def _spatial(value, name: str, rank: int, default: int = 1) -> tuple[int, ...]:
    """tf.nn's int / list of 1, rank or rank+2 ints (the batch and channel entries must be 1)."""
    if value is None:
        return (default,) * rank
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        values = (int(value),) * rank
    else:
        try:
            if isinstance(value, (str, bytes)):
                raise TypeError(value)
            items = [_index(v) for v in value]
        except (TypeError, ValueError):
            raise ValueError(f"`{name}` must be an int or a list of ints. Received: {name}={value!r}") from None
        if len(items) == 1:
            values = tuple(items) * rank
        elif len(items) == rank:
            values = tuple(items)
        elif len(items) == rank + 2:
            if items[0] != 1 or items[-1] != 1:
                raise ValueError(f"`{name}` must be 1 on the batch and channel axes. Received: {name}={value!r}")
            values = tuple(items[1:-1])
        else:
            raise ValueError(f"`{name}` must be an int or a list of 1, {rank} or {rank + 2} ints. "
                             f"Received: {name}={value!r}")
    if min(values) < 1 or max(values) > _MAX_SIZE:
        raise ValueError(f"`{name}` must be positive (and at most 2**40). Received: {name}={value!r}")
    return values


def _pads(padding, sizes, kernels, strides, dilations) -> tuple[int, ...]:
    """(top, bottom, left, right) from 'SAME'/'VALID' (any case, plus causal/full) or tf's explicit list."""
    rank = len(sizes)
    if isinstance(padding, str):
        mode = padding.lower()
        if mode not in _MODES:
            raise ValueError(f"`padding` must be 'SAME', 'VALID' or an explicit list. Received: padding={padding!r}")
        per_axis = [resolve_padding(n, k, s, d, mode) for n, k, s, d in zip(sizes, kernels, strides, dilations)]
    else:
        try:
            pairs = [tuple(_index(v) for v in p) for p in padding]
        except (TypeError, ValueError):
            raise ValueError(f"`padding` must be 'SAME', 'VALID' or a list of (before, after) pairs. "
                             f"Received: padding={padding!r}") from None
        if len(pairs) == rank + 2:
            if pairs[0] != (0, 0) or pairs[-1] != (0, 0):
                raise ValueError(f"Explicit padding must be 0 on the batch and channel axes. Received: "
                                 f"padding={padding!r}")
            pairs = pairs[1:-1]
        if len(pairs) != rank or any(len(p) != 2 or min(p) < 0 or max(p) > _MAX_SIZE for p in pairs):
            raise ValueError(f"Explicit padding must hold {rank + 2} non-negative (before, after) pairs (each at most "
                             f"2**40). "
                             f"Received: padding={padding!r}")
        per_axis = pairs
    if rank == 1:
        per_axis = [(0, 0)] + list(per_axis)
    return tuple(v for pair in per_axis for v in pair)


def _check_format(data_format, allowed):
    if data_format is not None and data_format not in allowed:
        raise ValueError(f"Only channels-last data is supported: data_format must be one of {allowed}. "
                         f"Received: data_format={data_format!r}")


def conv2d(input, filters, strides, padding, data_format="NHWC", dilations=None, name=None) -> np.ndarray:
    """``tf.nn.conv2d``: input (N, H, W, C_in), filters (kh, kw, C_in/groups, F) -> (N, OH, OW, F)."""
    del name
    _check_format(data_format, ("NHWC",))
    x, w = _as_float32(input, "input"), _as_float32(filters, "filters")
    _check_ndim(x, 4, "input", "N, H, W, C")
    _check_ndim(w, 4, "filters", "kh, kw, C_in, F")
    st, dl = _spatial(strides, "strides", 2), _spatial(dilations, "dilations", 2)
    if w.shape[2] == 0 or x.shape[3] % w.shape[2]:
        raise ValueError(f"The input channels must be a multiple of the filters' input channels. Received: "
                         f"input.shape={x.shape}, filters.shape={w.shape}")
    groups = x.shape[3] // w.shape[2]
    pads = _pads(padding, x.shape[1:3], w.shape[:2], st, dl)
    return _core.conv2d(x, w, None, strides=st, dilations=dl, padding=pads, groups=groups)


def conv1d(input, filters, stride, padding, data_format="NWC", dilations=None, name=None) -> np.ndarray:
    """``tf.nn.conv1d``: input (N, W, C_in), filters (k, C_in/groups, F) -> (N, OW, F)."""
    del name
    _check_format(data_format, ("NWC",))
    x, w = _as_float32(input, "input"), _as_float32(filters, "filters")
    _check_ndim(x, 3, "input", "N, W, C")
    _check_ndim(w, 3, "filters", "k, C_in, F")
    (st,), (dl,) = _spatial(stride, "stride", 1), _spatial(dilations, "dilations", 1)
    if w.shape[1] == 0 or x.shape[2] % w.shape[1]:
        raise ValueError(f"The input channels must be a multiple of the filters' input channels. Received: "
                         f"input.shape={x.shape}, filters.shape={w.shape}")
    pads = _pads(padding, x.shape[1:2], w.shape[:1], (st,), (dl,))
    y = _core.conv2d(x[:, None], w[None], None, strides=(1, st), dilations=(1, dl), padding=pads,
                     groups=x.shape[2] // w.shape[1])
    return y[:, 0]


def depthwise_conv2d(input, filter, strides, padding, data_format=None, dilations=None, name=None) -> np.ndarray:
    """``tf.nn.depthwise_conv2d``: input (N, H, W, C), filter (kh, kw, C, dm) -> (N, OH, OW, C*dm)."""
    del name
    _check_format(data_format, ("NHWC",))
    x, w = _as_float32(input, "input"), _as_float32(filter, "filter")
    _check_ndim(x, 4, "input", "N, H, W, C")
    _check_ndim(w, 4, "filter", "kh, kw, C, depth_multiplier")
    st, dl = _spatial(strides, "strides", 2), _spatial(dilations, "dilations", 2)
    if w.shape[2] != x.shape[3]:
        raise ValueError(f"The filter's channel axis must equal the input channels. Received: "
                         f"input.shape={x.shape}, filter.shape={w.shape}")
    pads = _pads(padding, x.shape[1:3], w.shape[:2], st, dl)
    return _core.depthwise2d(x, w, None, strides=st, dilations=dl, padding=pads)


def separable_conv2d(input, depthwise_filter, pointwise_filter, strides, padding, data_format=None,
                     dilations=None, name=None) -> np.ndarray:
    """``tf.nn.separable_conv2d``: depthwise (kh, kw, C, dm), then pointwise (1, 1, C*dm, F) -> (N, OH, OW, F).

    Runs fused per tile of output pixels: the depthwise intermediate never goes to memory as a whole tensor.
    """
    del name
    _check_format(data_format, ("NHWC",))
    x = _as_float32(input, "input")
    dw = _as_float32(depthwise_filter, "depthwise_filter")
    pw = _as_float32(pointwise_filter, "pointwise_filter")
    _check_ndim(x, 4, "input", "N, H, W, C")
    _check_ndim(dw, 4, "depthwise_filter", "kh, kw, C, depth_multiplier")
    _check_ndim(pw, 4, "pointwise_filter", "1, 1, C*dm, F")
    if pw.shape[:2] != (1, 1):
        raise ValueError(f"The pointwise filter must be 1x1. Received: pointwise_filter.shape={pw.shape}")
    if dw.shape[2] != x.shape[3]:
        raise ValueError(f"The depthwise filter's channel axis must equal the input channels. Received: "
                         f"input.shape={x.shape}, depthwise_filter.shape={dw.shape}")
    if pw.shape[2] != dw.shape[2] * dw.shape[3]:
        raise ValueError(f"The pointwise filter's input channels must equal C*depth_multiplier "
                         f"({dw.shape[2] * dw.shape[3]}). Received: depthwise_filter.shape={dw.shape}, "
                         f"pointwise_filter.shape={pw.shape}")
    st, dl = _spatial(strides, "strides", 2), _spatial(dilations, "dilations", 2)
    pads = _pads(padding, x.shape[1:3], dw.shape[:2], st, dl)
    return _core.separable_conv2d(x, dw, pw, None, strides=st, dilations=dl, padding=pads)


def bias_add(value, bias, data_format=None, name=None) -> np.ndarray:
    """``tf.nn.bias_add`` for channels-last data: adds ``bias`` (C,) along the last axis."""
    del name
    _check_format(data_format, ("NHWC", "NWC", "N...C"))
    v, b = _as_float32(value, "value"), _as_float32(bias, "bias")
    if b.ndim != 1 or v.ndim < 2 or v.shape[-1] != b.shape[0]:
        raise ValueError(f"`bias` must be 1-D with as many entries as the last axis of `value`. Received: "
                         f"value.shape={v.shape}, bias.shape={b.shape}")
    return v + b

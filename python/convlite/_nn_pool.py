"""Pooling shaped like tf.nn (re-exported from convlite.nn): channels-last input, 'VALID' / 'SAME' padding with
TensorFlow's semantics (padded cells ignored by max and left out of the average's divisor) and, as an extension,
explicit per-side padding. Returns float32 numpy arrays."""
from __future__ import annotations

import numpy as np

from . import _core

__all__ = ["pool", "max_pool1d", "max_pool2d", "avg_pool1d", "avg_pool2d"]


def _same_pads(n, k, s):
    out = -(-n // s)
    total = max((out - 1) * s + k - n, 0)
    return total // 2, total - total // 2


def _ints(value, name, rank, allow_full=True):
    """int, or a list of `rank` ints, or (tf style) `rank + 2` ints with 1 for batch and channels."""
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        values = [int(value)] * rank
    else:
        try:
            values = [int(v) for v in value]
        except (TypeError, ValueError):
            raise TypeError(f"`{name}` must be an int or a list of ints. Received: {name}={value!r}") from None
        if len(values) == 1:
            values = values * rank
        elif allow_full and len(values) == rank + 2:
            if values[0] != 1 or values[-1] != 1:
                raise ValueError(f"Pooling over the batch or channel axis is not supported: `{name}` must be 1 "
                                 f"there. Received: {name}={value!r}")
            values = values[1:-1]
        elif len(values) != rank:
            raise ValueError(f"`{name}` must have 1, {rank} or {rank + 2} elements. Received: {name}={value!r}")
    if any(v < 1 for v in values):
        raise ValueError(f"`{name}` must be positive. Received: {name}={value!r}")
    return values


def _pads(padding, spatial, ksize, strides):
    """'VALID' / 'SAME' (any case) or explicit [[0, 0], [before, after]..., [0, 0]] -> (t, b, l, r) for 2D."""
    if isinstance(padding, str):
        mode = padding.upper()
        if mode == "VALID":
            pairs = [(0, 0)] * len(spatial)
        elif mode == "SAME":
            pairs = [_same_pads(n, k, s) for n, k, s in zip(spatial, ksize, strides)]
        else:
            raise ValueError(f"`padding` must be 'VALID', 'SAME' or explicit pairs. Received: padding={padding!r}")
    else:
        try:
            pairs = [tuple(int(v) for v in p) for p in padding]
        except (TypeError, ValueError):
            raise ValueError(f"`padding` must be 'VALID', 'SAME' or explicit pairs. Received: padding={padding!r}") \
                from None
        if len(pairs) == len(spatial) + 2:
            if pairs[0] != (0, 0) or pairs[-1] != (0, 0):
                raise ValueError(f"Explicit padding of the batch or channel axis is not supported. "
                                 f"Received: padding={padding!r}")
            pairs = pairs[1:-1]
        if len(pairs) != len(spatial) or any(len(p) != 2 or min(p) < 0 for p in pairs):
            raise ValueError(f"Explicit `padding` needs one non-negative (before, after) pair per spatial axis. "
                             f"Received: padding={padding!r}")
    if len(pairs) == 1:
        return (0, 0) + tuple(pairs[0])
    return tuple(pairs[0]) + tuple(pairs[1])


def _check_format(data_format, rank):
    allowed = (None, "NWC") if rank == 1 else (None, "NHWC")
    if data_format not in allowed:
        raise ValueError(f"convlite pools channels-last data only: data_format must be {allowed[1]!r}. "
                         f"Received: data_format={data_format!r}")


def _pool(input, kind, ksize, strides, padding, rank):
    x = np.ascontiguousarray(input, dtype=np.float32)
    if x.ndim != rank + 2:
        raise ValueError(f"{rank}D pooling needs a {rank + 2}D input (batch, {'width' if rank == 1 else 'height, width'}"
                         f", channels). Received: input.shape={x.shape}")
    k = _ints(ksize, "ksize", rank)
    s = _ints(strides, "strides", rank)
    pads = _pads(padding, x.shape[1:-1], k, s)
    x4 = x[:, None] if rank == 1 else x
    pool2, strides2 = ((1, k[0]), (1, s[0])) if rank == 1 else (tuple(k), tuple(s))
    fn = _core.max_pool2d if kind == "MAX" else _core.avg_pool2d
    y = fn(x4, pool=pool2, strides=strides2, padding=pads)
    return y[:, 0] if rank == 1 else y


def max_pool1d(input, ksize, strides, padding, data_format="NWC", name=None):
    """tf.nn.max_pool1d on (batch, width, channels)."""
    _check_format(data_format, 1)
    return _pool(input, "MAX", ksize, strides, padding, 1)


def max_pool2d(input, ksize, strides, padding, data_format="NHWC", name=None):
    """tf.nn.max_pool2d on (batch, height, width, channels)."""
    _check_format(data_format, 2)
    return _pool(input, "MAX", ksize, strides, padding, 2)


def avg_pool1d(input, ksize, strides, padding, data_format="NWC", name=None):
    """tf.nn.avg_pool1d; padded cells are left out of the divisor."""
    _check_format(data_format, 1)
    return _pool(input, "AVG", ksize, strides, padding, 1)


def avg_pool2d(input, ksize, strides, padding, data_format="NHWC", name=None):
    """tf.nn.avg_pool2d; padded cells are left out of the divisor."""
    _check_format(data_format, 2)
    return _pool(input, "AVG", ksize, strides, padding, 2)


def pool(input, window_shape, pooling_type, strides=None, padding="VALID", data_format=None, dilations=None,
         name=None):
    """tf.nn.pool for 1D and 2D windows: strides default to 1 and may not exceed the window (as in TensorFlow);
    pooling_type is 'MAX' or 'AVG'; dilations other than 1 are not supported."""
    try:
        window = [int(v) for v in window_shape]
    except (TypeError, ValueError):
        raise TypeError(f"`window_shape` must be a list of ints. Received: window_shape={window_shape!r}") from None
    rank = len(window)
    if rank not in (1, 2):
        raise ValueError(f"convlite pools 1D and 2D windows. Received: window_shape={window_shape!r}")
    kind = str(pooling_type).upper()
    if kind not in ("MAX", "AVG"):
        raise ValueError(f"`pooling_type` must be 'MAX' or 'AVG'. Received: pooling_type={pooling_type!r}")
    strides = [1] * rank if strides is None else _ints(strides, "strides", rank, allow_full=False)
    if dilations is not None and any(d != 1 for d in _ints(dilations, "dilations", rank, allow_full=False)):
        raise ValueError(f"convlite's pool supports dilations of 1 only. Received: dilations={dilations!r}")
    if any(s > w for s, w in zip(strides, window)):
        raise ValueError(f"strides > window_shape is not supported (TensorFlow rejects it too). "
                         f"Received: strides={strides!r}, window_shape={window_shape!r}")
    _check_format(data_format, rank)
    return _pool(input, kind, window, strides, padding, rank)

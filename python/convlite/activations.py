"""Activation functions with the names, arguments and semantics of ``keras.activations``.

Each function takes array-like input (any numeric dtype is cast to float32) and returns a float32 numpy array
computed by convlite's C++ kernels (scalar, AVX2 or AVX-512, chosen at import).

Accuracy: exp, tanh, erf and log are vectorised polynomial approximations. Measured against float64 over the
float32 range (tests/test_activation_kinds.py::test_approximation_error_against_float64) their relative error is
below 2.5e-7 (about 2 float32 ulps) for exponential, sigmoid, softplus, elu and selu, 3.0e-7 for tanh (a rational
form, as TensorFlow's, whose own tanh is at 3.6e-7); softmax and log_softmax subtract the row maximum, then use
a table-driven exp (1.2e-7), and their float32 row sum adds up to about 1e-6 on 1000-wide rows (README); gelu
(both forms) is
within 1e-6 absolute, the error being the float32 cancellation in ``1 + erf`` / ``1 + tanh`` for x near -3, which
TensorFlow's float32 gelu shares. Every instruction-set tier returns bit-identical results.

Each function object carries ``_core_kind`` (and ``_core_params``, the kernel arguments its Keras defaults imply),
so layers can run ``activation=convlite.activations.relu`` inside the C++ model with the same kernel.
"""
from __future__ import annotations

import numbers
import operator

import numpy as np

from . import _core

__all__ = [
    "relu", "leaky_relu", "elu", "selu", "gelu", "silu", "swish", "sigmoid", "hard_sigmoid", "tanh", "softplus",
    "softsign", "exponential", "relu6", "softmax", "log_softmax", "linear", "get", "serialize", "deserialize",
]


def _as_float32(x, name="x"):
    try:
        arr = np.asarray(x)
    except (TypeError, ValueError):  # ragged nesting and the like
        raise TypeError(f"Activations take numeric arrays. Received: {name} of type {type(x).__name__}") from None
    if not (np.issubdtype(arr.dtype, np.number) or arr.dtype == np.bool_) or np.iscomplexobj(arr):
        raise TypeError(f"Activations take real numeric arrays. Received: {name} with dtype {arr.dtype}")
    # np.asarray keeps a 0-d input 0-d (np.ascontiguousarray would make it 1-d).
    return np.asarray(arr, dtype=np.float32, order="C")


def _float_arg(value, name):
    """A real scalar argument as float, or a TypeError naming it."""
    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value[()]
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"`{name}` must be a real number. Received: {name}={value!r}")
    return float(value)


def _elementwise(x, kind, **params):
    return _core.activation(_as_float32(x), kind, **params)


def relu(x, negative_slope=0.0, max_value=None, threshold=0.0):
    """Rectified linear unit, as ``keras.activations.relu``.

    ``max(x, 0)`` by default; with ``threshold`` values at or below it become 0; ``max_value`` clips the positive
    part; ``negative_slope`` scales the part below the threshold: ``-negative_slope * (threshold - x)``.
    """
    return _core.relu(_as_float32(x), negative_slope=_float_arg(negative_slope, "negative_slope"),
                      max_value=None if max_value is None else _float_arg(max_value, "max_value"),
                      threshold=_float_arg(threshold, "threshold"))


def leaky_relu(x, negative_slope=0.2):
    """``x`` if ``x > 0`` else ``negative_slope * x`` (``keras.activations.leaky_relu``; the layer's default is 0.3)."""
    return _elementwise(x, "leaky_relu", alpha=_float_arg(negative_slope, "negative_slope"))


def elu(x, alpha=1.0):
    """Exponential linear unit: ``x`` if ``x > 0`` else ``alpha * (exp(x) - 1)`` (expm1 without cancellation)."""
    return _elementwise(x, "elu", alpha=_float_arg(alpha, "alpha"))


def selu(x):
    """Scaled ELU: ``scale * elu(x, alpha)`` with scale = 1.05070098, alpha = 1.67326324."""
    return _elementwise(x, "selu")


def gelu(x, approximate=False):
    """Gaussian error linear unit: ``0.5 * x * (1 + erf(x / sqrt(2)))``, or with ``approximate=True`` the tanh form
    ``0.5 * x * (1 + tanh(sqrt(2 / pi) * (x + 0.044715 x^3)))``. Within 1e-6 absolute of float64."""
    return _elementwise(x, "gelu_tanh" if approximate else "gelu")


def silu(x):
    """Sigmoid linear unit (swish): ``x * sigmoid(x)``."""
    return _elementwise(x, "silu")


def sigmoid(x):
    """``1 / (1 + exp(-x))``; relative error below 2.5e-7."""
    return _elementwise(x, "sigmoid")


def hard_sigmoid(x):
    """Keras 3's piecewise-linear sigmoid: ``relu6(x + 3) / 6``."""
    return _elementwise(x, "hard_sigmoid")


def tanh(x):
    """Hyperbolic tangent; relative error below 3.0e-7."""
    return _elementwise(x, "tanh")


def softplus(x):
    """``log(1 + exp(x))``, computed as ``max(x, 0) + log1p(exp(-|x|))`` (no overflow); relative error below 2.5e-7."""
    return _elementwise(x, "softplus")


def softsign(x):
    """``x / (1 + |x|)``."""
    return _elementwise(x, "softsign")


def exponential(x):
    """``exp(x)``; relative error below 2.5e-7, inf above 88.72, 0 below -103.97."""
    return _elementwise(x, "exponential")


def relu6(x):
    """``min(max(x, 0), 6)``."""
    return _elementwise(x, "relu6")


def linear(x):
    """The identity (as float32)."""
    return _as_float32(x).copy()


def _axis_last(x, axis, kind):
    arr = _as_float32(x)
    axes = (axis,) if np.isscalar(axis) else tuple(axis)
    if arr.ndim == 0:
        raise ValueError(f"{kind} needs at least one axis. Received: x with shape {arr.shape}")
    try:
        axes = tuple(operator.index(a) for a in axes)  # not int(): axis=1.5 must not mean 1
        axes = tuple(a % arr.ndim if -arr.ndim <= a < arr.ndim else None for a in axes)
    except (TypeError, ValueError):
        raise TypeError(f"`axis` must be an int or a tuple of ints. Received: axis={axis!r}") from None
    if not axes or None in axes or len(set(axes)) != len(axes):
        raise ValueError(f"`axis` must name distinct axes of an input with {arr.ndim} dimensions. "
                         f"Received: axis={axis!r}")
    if axes == (arr.ndim - 1,):
        return _core.activation(arr, kind)
    # Move the reduced axes to the end, flatten them into one, apply, and undo.
    last = tuple(range(arr.ndim - len(axes), arr.ndim))
    moved = np.moveaxis(arr, axes, last)
    flat = np.ascontiguousarray(moved).reshape(moved.shape[:arr.ndim - len(axes)] + (-1,))
    out = _core.activation(flat, kind).reshape(moved.shape)
    return np.ascontiguousarray(np.moveaxis(out, last, axes))


def softmax(x, axis=-1):
    """``exp(x - max) / sum(exp(x - max))`` along ``axis`` (an int or tuple of ints); numerically stable."""
    return _axis_last(x, axis, "softmax")


def log_softmax(x, axis=-1):
    """``x - max - log(sum(exp(x - max)))`` along ``axis``; numerically stable."""
    return _axis_last(x, axis, "log_softmax")


swish = silu

# The kernel each function maps to, with the parameters its defaults imply (for the layers and the C++ model).
for _fn, _kind, _params in [
    (relu, "relu", {}), (leaky_relu, "leaky_relu", {"alpha": 0.2}), (elu, "elu", {"alpha": 1.0}),
    (selu, "selu", {}), (gelu, "gelu", {}), (silu, "silu", {}), (sigmoid, "sigmoid", {}),
    (hard_sigmoid, "hard_sigmoid", {}), (tanh, "tanh", {}), (softplus, "softplus", {}),
    (softsign, "softsign", {}), (exponential, "exponential", {}), (relu6, "relu6", {}),
    (softmax, "softmax", {}), (log_softmax, "log_softmax", {}), (linear, "linear", {}),
]:
    _fn._core_kind = _kind
    _fn._core_params = _params
del _fn, _kind, _params

_BY_NAME = {fn.__name__: fn for fn in (relu, leaky_relu, elu, selu, gelu, silu, sigmoid, hard_sigmoid, tanh,
                                       softplus, softsign, exponential, relu6, softmax, log_softmax, linear)}
_BY_NAME["swish"] = silu


def serialize(activation):
    """The Keras name of a built-in activation (``swish`` serialises as ``"silu"``, as in Keras)."""
    name = getattr(activation, "__name__", None)
    if _BY_NAME.get(name) is activation:
        return name
    raise ValueError(f"Unknown activation function '{activation}' cannot be serialized: only convlite's built-in "
                     f"activations have a name ({', '.join(sorted(_BY_NAME))}). Received: activation={activation!r}")


def get(identifier):
    """An activation function from a Keras name, a callable (returned as is) or None (linear)."""
    if identifier is None:
        return linear
    if isinstance(identifier, str):
        fn = _BY_NAME.get(identifier)
        if fn is None:
            raise ValueError(f"Could not interpret activation function identifier. Expected one of "
                             f"{sorted(_BY_NAME)} or one of convlite.activations' functions. "
                             f"Received: identifier={identifier!r}")
        return fn
    if isinstance(identifier, dict) and isinstance(identifier.get("config"), str):
        return get(identifier["config"])  # Keras's {"module": ..., "class_name": "function", "config": "relu"}
    if callable(identifier):
        return identifier
    raise ValueError(f"Could not interpret activation function identifier: expected a name, a callable or None. "
                     f"Received: identifier={identifier!r}")


def deserialize(config):
    """Inverse of :func:`serialize`."""
    return get(config)

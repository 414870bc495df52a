"""Float64 numpy references for every activation and its derivative (Keras 3 / TensorFlow semantics).

`forward(kind, x, alpha)` and `grad(kind, x, alpha)` (f'(x), elementwise kinds) plus softmax helpers. relu's
references live in reference.py.
"""
from __future__ import annotations

import math

import numpy as np

SELU_SCALE = 1.0507009873554805
SELU_ALPHA = 1.6732632423543772
GELU_C = math.sqrt(2.0 / math.pi)
GELU_K = 0.044715

_erf = np.vectorize(math.erf, otypes=[np.float64])


def erf(x):
    return _erf(np.asarray(x, np.float64))


def sigmoid(x):
    x = np.asarray(x, np.float64)
    return np.exp(-np.logaddexp(0.0, -x))


def forward(kind, x, alpha=None):
    x = np.asarray(x, np.float64)
    if kind == "linear":
        return x.copy()
    if kind == "leaky_relu":
        return np.where(x > 0, x, (0.2 if alpha is None else alpha) * x)
    if kind == "elu":
        return np.where(x > 0, x, (1.0 if alpha is None else alpha) * np.expm1(x))
    if kind == "selu":
        return SELU_SCALE * np.where(x > 0, x, SELU_ALPHA * np.expm1(x))
    if kind == "gelu":
        return 0.5 * x * (1.0 + erf(x / math.sqrt(2.0)))
    if kind == "gelu_tanh":
        return 0.5 * x * (1.0 + np.tanh(GELU_C * (x + GELU_K * x**3)))
    if kind in ("silu", "swish"):
        return x * sigmoid(x)
    if kind == "sigmoid":
        return sigmoid(x)
    if kind == "hard_sigmoid":
        return np.clip(x + 3.0, 0.0, 6.0) / 6.0
    if kind == "tanh":
        return np.tanh(x)
    if kind == "softplus":
        return np.logaddexp(0.0, x)
    if kind == "softsign":
        return x / (1.0 + np.abs(x))
    if kind == "exponential":
        return np.exp(x)
    if kind == "relu6":
        return np.clip(x, 0.0, 6.0)
    if kind == "softmax":
        return softmax(x)
    if kind == "log_softmax":
        return log_softmax(x)
    raise ValueError(kind)


def grad(kind, x, alpha=None):
    """f'(x) as TensorFlow's registered gradients define it (boundaries included)."""
    x = np.asarray(x, np.float64)
    if kind == "linear":
        return np.ones_like(x)
    if kind == "leaky_relu":
        return np.where(x > 0, 1.0, 0.2 if alpha is None else alpha)
    if kind == "elu":
        a = 1.0 if alpha is None else alpha
        return np.where(x > 0, 1.0, a * np.exp(x))
    if kind == "selu":
        return np.where(x > 0, SELU_SCALE, np.where(x < 0, SELU_SCALE * SELU_ALPHA * np.exp(x), SELU_SCALE))
    if kind == "gelu":
        return 0.5 * (1.0 + erf(x / math.sqrt(2.0))) + x * np.exp(-0.5 * x * x) / math.sqrt(2.0 * math.pi)
    if kind == "gelu_tanh":
        t = np.tanh(GELU_C * (x + GELU_K * x**3))
        return 0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * GELU_C * (1.0 + 3.0 * GELU_K * x * x)
    if kind in ("silu", "swish"):
        s = sigmoid(x)
        return s * (1.0 + x * (1.0 - s))
    if kind == "sigmoid":
        s = sigmoid(x)
        return s * (1.0 - s)
    if kind == "hard_sigmoid":
        return np.where((x + 3.0 > 0) & (x + 3.0 < 6.0), 1.0 / 6.0, 0.0)
    if kind == "tanh":
        return 1.0 - np.tanh(x) ** 2
    if kind == "softplus":
        return sigmoid(x)
    if kind == "softsign":
        return 1.0 / (1.0 + np.abs(x)) ** 2
    if kind == "exponential":
        return np.exp(x)
    if kind == "relu6":
        return ((x > 0) & (x < 6)).astype(np.float64)
    raise ValueError(kind)


def softmax(x, axis=-1):
    x = np.asarray(x, np.float64)
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def log_softmax(x, axis=-1):
    x = np.asarray(x, np.float64)
    shifted = x - x.max(axis=axis, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))


def softmax_backward(x, dy, log_output=False):
    """Vector-Jacobian product of (log_)softmax on the last axis."""
    dy = np.asarray(dy, np.float64)
    if log_output:
        return dy - softmax(x) * dy.sum(axis=-1, keepdims=True)
    y = softmax(x)
    return y * (dy - (dy * y).sum(axis=-1, keepdims=True))

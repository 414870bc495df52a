"""Activations shaped like tf.nn (re-exported from convlite.nn): same names and argument names as TensorFlow,
numpy float32 in and out, computed by the same C++ kernels as convlite.activations."""
from __future__ import annotations

from . import activations as _act

__all__ = ["relu", "relu6", "leaky_relu", "elu", "selu", "gelu", "silu", "softplus", "softsign", "sigmoid", "tanh",
           "softmax", "log_softmax"]


def relu(features, name=None):
    """max(features, 0)."""
    return _act.relu(features)


def relu6(features, name=None):
    """min(max(features, 0), 6)."""
    return _act.relu6(features)


def leaky_relu(features, alpha=0.2, name=None):
    """features if features > 0 else alpha * features."""
    return _act.leaky_relu(features, negative_slope=alpha)


def elu(features, name=None):
    """features if features > 0 else exp(features) - 1."""
    return _act.elu(features)


def selu(features, name=None):
    return _act.selu(features)


def gelu(features, approximate=False, name=None):
    return _act.gelu(features, approximate=approximate)


def silu(features, beta=1.0, name=None):
    """features * sigmoid(beta * features); beta other than 1 is computed as features * sigmoid(beta * features)."""
    if beta == 1.0:
        return _act.silu(features)
    import numpy as np

    x = np.asarray(features, dtype=np.float32)
    return (x * _act.sigmoid(np.float32(beta) * x)).astype(np.float32)


def softplus(features, name=None):
    return _act.softplus(features)


def softsign(features, name=None):
    return _act.softsign(features)


def sigmoid(x, name=None):
    return _act.sigmoid(x)


def tanh(x, name=None):
    return _act.tanh(x)


def softmax(logits, axis=None, name=None):
    """Softmax along `axis` (default: the last)."""
    return _act.softmax(logits, axis=-1 if axis is None else axis)


def log_softmax(logits, axis=None, name=None):
    return _act.log_softmax(logits, axis=-1 if axis is None else axis)

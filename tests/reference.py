"""Float64 numpy reference implementations: the definitions every kernel is tested against.

Each function is written for clarity, not speed, and follows Keras 3 / TensorFlow semantics. The families'
references live in their own modules, indexed here: ``reference.conv.conv2d``, ``reference.pool.max_pool2d``, ...
"""
from __future__ import annotations

import numpy as np

import ref_activation as activation  # noqa: F401  (every Keras activation and its TF gradient)
import ref_conv as conv  # noqa: F401  (conv/depthwise/dense with groups, dilation, padding, and gradients)
import ref_model as model  # noqa: F401  (layer-level references)
import ref_pool as pool  # noqa: F401  (max/avg/global pooling, zero padding, upsampling)
import ref_separable as separable  # noqa: F401  (separable = depthwise then 1x1, and its gradients)
import ref_train as train  # noqa: F401  (losses, optimizers, batch norm, dropout)


def relu(x, negative_slope=0.0, max_value=None, threshold=0.0):
    """keras.activations.relu in float64."""
    x = np.asarray(x, dtype=np.float64)
    if negative_slope != 0.0 and max_value is None and threshold == 0.0:
        return np.where(x > 0, x, negative_slope * x)
    pos = np.where(x > threshold, x, 0.0) if threshold != 0.0 else np.where(x < 0, 0.0, x)
    if max_value is not None:
        pos = np.clip(pos, 0.0, max_value)
    if negative_slope != 0.0:
        pos = pos - negative_slope * np.maximum(threshold - x, 0.0)
    return pos


def relu_grad(x, negative_slope=0.0, max_value=None, threshold=0.0):
    """d relu / dx as TensorFlow's autodiff computes it for keras.activations.relu."""
    x = np.asarray(x, dtype=np.float64)
    if negative_slope != 0.0 and max_value is None and threshold == 0.0:
        return np.where(x > 0, 1.0, negative_slope)
    if threshold != 0.0:
        g = (x > threshold).astype(np.float64)
        if max_value is not None:
            pos = np.where(x > threshold, x, 0.0)
            g = g * ((pos >= 0) & (pos <= max_value))
    elif max_value == 6.0:
        g = ((x > 0) & (x < 6)).astype(np.float64)
    else:
        g = (x > 0).astype(np.float64)
        if max_value is not None:
            g = g * (x <= max_value)
    if negative_slope != 0.0:
        g = g + negative_slope * (threshold - x > 0)
    return g

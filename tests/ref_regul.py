"""float64 numpy references for regularizers and constraints (Keras 3.15's formulas)."""
import numpy as np

EPS = 1e-7


def penalty(w, l1=0.0, l2=0.0):
    w = np.asarray(w, np.float64)
    return l1 * np.abs(w).sum() + l2 * np.square(w).sum()


def penalty_grad(w, l1=0.0, l2=0.0):
    w = np.asarray(w, np.float64)
    return l1 * np.sign(w) + 2.0 * l2 * w


def _norms(w, axis):
    return np.sqrt(np.sum(np.square(w), axis=axis if axis is None else tuple(np.atleast_1d(axis)), keepdims=True))


def max_norm(w, max_value=2.0, axis=0):
    w = np.asarray(w, np.float64)
    n = _norms(w, axis)
    return w * (np.clip(n, 0, max_value) / (EPS + n))


def non_neg(w):
    return np.maximum(np.asarray(w, np.float64), 0.0)


def unit_norm(w, axis=0):
    w = np.asarray(w, np.float64)
    return w / (EPS + _norms(w, axis))


def min_max_norm(w, min_value=0.0, max_value=1.0, rate=1.0, axis=0):
    w = np.asarray(w, np.float64)
    n = _norms(w, axis)
    desired = rate * np.clip(n, min_value, max_value) + (1 - rate) * n
    return w * (desired / (EPS + n))

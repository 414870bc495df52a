"""float64 numpy references for the training pieces: losses, optimizer updates, batch normalization, dropout.

Written from Keras 3's source (losses/losses.py, backend/tensorflow/nn.py, optimizers/*.py,
layers/normalization/batch_normalization.py), independently of the C++ kernels.
"""
from __future__ import annotations

import numpy as np

EPS32 = float(np.float32(1e-7))
ONE_MINUS_EPS32 = float(np.float32(1.0 - 1e-7))


# ---------------------------------------------------------------------------------------------- losses
def loss_per_sample(kind, y_pred, y_true, from_logits=False, label_smoothing=0.0, delta=1.0):
    """Per-sample Keras loss for 2-D y_pred (batch, features); y_true (batch,) class ids for the sparse loss."""
    p = np.asarray(y_pred, np.float64)
    t = np.asarray(y_true, np.float64)
    if kind == "binary_crossentropy":
        z = t * (1 - label_smoothing) + 0.5 * label_smoothing
        if from_logits:
            e = np.maximum(p, 0) - p * z + np.log1p(np.exp(-np.abs(p)))
        else:
            o = np.clip(p, EPS32, ONE_MINUS_EPS32)
            e = -(z * np.log(o) + (1 - z) * np.log(1 - o))
        return e.mean(axis=-1)
    if kind == "categorical_crossentropy":
        t = t * (1 - label_smoothing) + label_smoothing / p.shape[-1]
        if from_logits:
            lse = np.log(np.exp(p - p.max(-1, keepdims=True)).sum(-1, keepdims=True)) + p.max(-1, keepdims=True)
            return (t * (lse - p)).sum(-1)
        o = np.clip(p / p.sum(-1, keepdims=True), EPS32, ONE_MINUS_EPS32)
        return -(t * np.log(o)).sum(-1)
    if kind == "sparse_categorical_crossentropy":
        labels = t.astype(np.int64)
        if from_logits:
            logits = p
        else:
            logits = np.log(np.clip(p, EPS32, ONE_MINUS_EPS32))
        m = logits.max(-1, keepdims=True)
        lse = (np.log(np.exp(logits - m).sum(-1, keepdims=True)) + m)[:, 0]
        return lse - logits[np.arange(len(labels)), labels]
    e = p - t
    if kind == "mse":
        return (e * e).mean(-1)
    if kind == "mae":
        return np.abs(e).mean(-1)
    if kind == "huber":
        a = np.abs(e)
        return np.where(a <= delta, 0.5 * e * e, delta * a - 0.5 * delta * delta).mean(-1)
    raise ValueError(kind)


def loss(kind, y_pred, y_true, sample_weight=None, **kwargs):
    """Keras's sum_over_batch_size reduction: sum_i w_i loss_i / batch."""
    per = loss_per_sample(kind, y_pred, y_true, **kwargs)
    if sample_weight is not None:
        per = per * np.asarray(sample_weight, np.float64)
    return per.sum() / len(per)


def loss_numeric_grad(kind, y_pred, y_true, sample_weight=None, h=1e-6, **kwargs):
    """Central finite differences of `loss` in float64 with respect to y_pred."""
    p = np.asarray(y_pred, np.float64).copy()
    g = np.zeros_like(p)
    for idx in np.ndindex(p.shape):
        old = p[idx]
        p[idx] = old + h
        up = loss(kind, p, y_true, sample_weight, **kwargs)
        p[idx] = old - h
        down = loss(kind, p, y_true, sample_weight, **kwargs)
        p[idx] = old
        g[idx] = (up - down) / (2 * h)
    return g


# ---------------------------------------------------------------------------------------------- optimizers
def sgd(p, g, vel, lr, momentum, nesterov):
    if vel is None:
        return p - lr * g, None
    vel = momentum * vel - lr * g
    return (p + momentum * vel - lr * g if nesterov else p + vel), vel


def adam(p, g, m, v, vh, lr, b1, b2, eps, step):
    alpha = lr * np.sqrt(1 - b2 ** step) / (1 - b1 ** step)
    m = m + (g - m) * (1 - b1)
    v = v + (g * g - v) * (1 - b2)
    if vh is not None:
        vh = np.maximum(vh, v)
        return p - m * alpha / (np.sqrt(vh) + eps), m, v, vh
    return p - m * alpha / (np.sqrt(v) + eps), m, v, None


def rmsprop(p, g, vel, mom, avg, lr, rho, momentum, eps):
    vel = rho * vel + (1 - rho) * g * g
    if avg is not None:
        avg = rho * avg + (1 - rho) * g
        denominator = vel - avg * avg + eps
    else:
        denominator = vel + eps
    inc = lr * g / np.sqrt(denominator)
    if mom is not None:
        mom = momentum * mom + inc
        return p - mom, vel, mom, avg
    return p - inc, vel, None, avg


# ---------------------------------------------------------------------------------------------- batch norm
def batch_norm_training(x, gamma, beta, eps):
    """y, batch mean, biased batch variance for x (rows, channels)."""
    x = np.asarray(x, np.float64)
    mean = x.mean(0)
    var = ((x - mean) ** 2).mean(0)
    y = (x - mean) / np.sqrt(var + eps)
    if gamma is not None:
        y = y * gamma
    if beta is not None:
        y = y + beta
    return y, mean, var


def batch_norm_backward(x, gamma, dy, eps):
    """dx, dgamma, dbeta of batch_norm_training (batch statistics depend on x)."""
    x = np.asarray(x, np.float64)
    dy = np.asarray(dy, np.float64)
    n = x.shape[0]
    mean = x.mean(0)
    inv = 1.0 / np.sqrt(((x - mean) ** 2).mean(0) + eps)
    xhat = (x - mean) * inv
    dbeta = dy.sum(0)
    dgamma = (dy * xhat).sum(0)
    g = 1.0 if gamma is None else np.asarray(gamma, np.float64)
    dx = g * inv / n * (n * dy - dbeta - xhat * dgamma)
    return dx, dgamma, dbeta

"""Metric base classes, the mean-based metrics (accuracies, top-k, MSE/MAE) and their per-sample functions."""
from __future__ import annotations

import re

import numpy as np

_name_counts: dict[str, int] = {}


def _snake_case(name):
    """Keras's to_snake_case: 'GlorotUniform' -> 'glorot_uniform', 'AUC' -> 'auc'."""
    name = re.sub(r"\W+", "", name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()


def _auto_name(class_name):
    """Keras's default metric names are unique per process: 'precision', then 'precision_1', ..."""
    base = _snake_case(class_name)
    count = _name_counts.get(base, 0)
    _name_counts[base] = count + 1
    return base if count == 0 else f"{base}_{count}"


def _squeeze_or_expand_to_same_rank(x1, x2, expand_rank_1=True):
    """Make ranks agree when they differ by a trailing axis of size 1 (keras.src.losses.loss)."""
    if x1.ndim == x2.ndim + 1 and x1.shape[-1] == 1:
        if x2.ndim == 1 and expand_rank_1:
            x2 = x2[..., None]
        else:
            x1 = x1[..., 0]
    if x2.ndim == x1.ndim + 1 and x2.shape[-1] == 1:
        if x1.ndim == 1 and expand_rank_1:
            x1 = x1[..., None]
        else:
            x2 = x2[..., 0]
    return x1, x2


def _as_float(x):
    return np.asarray(x, dtype=np.float32)


class Metric:
    """Base class: ``update_state``, ``result``, ``reset_state``, ``name``, ``get_config`` as in Keras."""

    _direction = None

    def __init__(self, name=None, dtype=None):
        self.name = name if name is not None else _auto_name(self.__class__.__name__)
        self.dtype = dtype or "float32"

    def update_state(self, *args, **kwargs):
        raise NotImplementedError

    def result(self):
        raise NotImplementedError

    def reset_state(self):
        raise NotImplementedError

    def __call__(self, *args, **kwargs):
        self.update_state(*args, **kwargs)
        return self.result()

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        return f"<{self.__class__.__name__} name={self.name}>"


class Mean(Metric):
    """Weighted mean of the values seen (keras.metrics.Mean, including its sample_weight reduction rules)."""

    def __init__(self, name="mean", dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.reset_state()

    def reset_state(self):
        self.total = 0.0
        self.count = 0.0

    def update_state(self, values, sample_weight=None):
        values = np.asarray(values, dtype=np.float64)
        if sample_weight is not None:
            sample_weight = np.asarray(sample_weight, dtype=np.float64)
            values, sample_weight = _squeeze_or_expand_to_same_rank(values, sample_weight)
            if values.ndim > sample_weight.ndim:
                values = values.mean(axis=tuple(range(sample_weight.ndim, values.ndim)))
            values = values * np.broadcast_to(sample_weight, values.shape)
            if sample_weight.ndim > 1:
                sample_weight = sample_weight.mean(axis=tuple(range(1, sample_weight.ndim)))
        if values.ndim > 1:
            values = values.mean(axis=tuple(range(1, values.ndim)))
        self.total += float(values.sum())
        if sample_weight is not None:
            self.count += float(np.sum(sample_weight))
        else:
            self.count += values.shape[0] if values.ndim >= 1 else 1

    def result(self):
        return np.float32(self.total / self.count if self.count else 0.0)


class MeanMetricWrapper(Mean):
    """Mean of ``fn(y_true, y_pred, **kwargs)`` per sample."""

    def __init__(self, fn, name=None, dtype=None, **kwargs):
        super().__init__(name=name if name is not None else getattr(fn, "__name__", "mean"), dtype=dtype)
        self._fn = fn
        self._fn_kwargs = kwargs

    def update_state(self, y_true, y_pred, sample_weight=None):
        return super().update_state(self._fn(y_true, y_pred, **self._fn_kwargs), sample_weight=sample_weight)

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype}


# ---- per-sample functions (keras.metrics.binary_accuracy etc.) -------------------------------------------------

def accuracy(y_true, y_pred):
    y_pred = _as_float(y_pred)
    y_true, y_pred = _squeeze_or_expand_to_same_rank(_as_float(y_true), y_pred)
    return (y_true == y_pred).astype(np.float32)


def binary_accuracy(y_true, y_pred, threshold=0.5):
    y_true, y_pred = _squeeze_or_expand_to_same_rank(_as_float(y_true), _as_float(y_pred))
    return (y_true == (y_pred > threshold)).astype(np.float32)


def categorical_accuracy(y_true, y_pred):
    return (np.argmax(y_true, axis=-1) == np.argmax(y_pred, axis=-1)).astype(np.float32)


def sparse_categorical_accuracy(y_true, y_pred):
    y_pred = _as_float(y_pred)
    y_true = _as_float(y_true)
    if y_true.ndim == y_pred.ndim and y_true.shape[-1] == 1:
        y_true = y_true[..., 0]
    matches = (y_true == np.argmax(y_pred, axis=-1)).astype(np.float32)
    if matches.ndim > 1 and matches.shape[-1] == 1:
        matches = matches[..., 0]
    return matches


def _in_top_k(targets, predictions, k):
    """tf.math.in_top_k: the target's score is among the k largest (ties count in its favour)."""
    target_scores = predictions[np.arange(predictions.shape[0]), targets]
    return (predictions > target_scores[:, None]).sum(axis=-1) < k


def top_k_categorical_accuracy(y_true, y_pred, k=5):
    y_pred = _as_float(y_pred)
    labels = np.argmax(y_true, axis=-1)
    shape = labels.shape
    matches = _in_top_k(labels.reshape(-1), y_pred.reshape(-1, y_pred.shape[-1]), k)
    return matches.astype(np.float32).reshape(shape)


def sparse_top_k_categorical_accuracy(y_true, y_pred, k=5):
    y_pred = _as_float(y_pred)
    labels = np.asarray(y_true).astype(np.int64)
    shape = labels.shape
    matches = _in_top_k(labels.reshape(-1), y_pred.reshape(-1, y_pred.shape[-1]), k)
    return matches.astype(np.float32).reshape(shape)


def mean_squared_error(y_true, y_pred):
    y_true, y_pred = _squeeze_or_expand_to_same_rank(_as_float(y_true), _as_float(y_pred))
    return np.mean(np.square(y_true - y_pred), axis=-1)


def mean_absolute_error(y_true, y_pred):
    y_true, y_pred = _squeeze_or_expand_to_same_rank(_as_float(y_true), _as_float(y_pred))
    return np.mean(np.abs(y_true - y_pred), axis=-1)


class Accuracy(MeanMetricWrapper):
    _direction = "up"

    def __init__(self, name="accuracy", dtype=None):
        super().__init__(accuracy, name=name, dtype=dtype)


class BinaryAccuracy(MeanMetricWrapper):
    _direction = "up"

    def __init__(self, name="binary_accuracy", dtype=None, threshold=0.5):
        super().__init__(binary_accuracy, name=name, dtype=dtype, threshold=threshold)
        self.threshold = threshold

    def get_config(self):
        return {**super().get_config(), "threshold": self.threshold}


class CategoricalAccuracy(MeanMetricWrapper):
    _direction = "up"

    def __init__(self, name="categorical_accuracy", dtype=None):
        super().__init__(categorical_accuracy, name=name, dtype=dtype)


class SparseCategoricalAccuracy(MeanMetricWrapper):
    _direction = "up"

    def __init__(self, name="sparse_categorical_accuracy", dtype=None):
        super().__init__(sparse_categorical_accuracy, name=name, dtype=dtype)


class TopKCategoricalAccuracy(MeanMetricWrapper):
    _direction = "up"

    def __init__(self, k=5, name="top_k_categorical_accuracy", dtype=None):
        super().__init__(top_k_categorical_accuracy, name=name, dtype=dtype, k=k)
        self.k = k

    def get_config(self):
        return {**super().get_config(), "k": self.k}


class SparseTopKCategoricalAccuracy(MeanMetricWrapper):
    _direction = "up"

    def __init__(self, k=5, name="sparse_top_k_categorical_accuracy", dtype=None):
        super().__init__(sparse_top_k_categorical_accuracy, name=name, dtype=dtype, k=k)
        self.k = k

    def get_config(self):
        return {**super().get_config(), "k": self.k}


class MeanSquaredError(MeanMetricWrapper):
    _direction = "down"

    def __init__(self, name="mean_squared_error", dtype=None):
        super().__init__(mean_squared_error, name=name, dtype=dtype)


class MeanAbsoluteError(MeanMetricWrapper):
    _direction = "down"

    def __init__(self, name="mean_absolute_error", dtype=None):
        super().__init__(mean_absolute_error, name=name, dtype=dtype)

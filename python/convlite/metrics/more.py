"""The rest of Keras 3's everyday metrics: regression errors (RMSE, MAPE, MSLE, log-cosh, cosine similarity, R²),
the probabilistic ones (cross-entropies, KL divergence, Poisson, hinges), F1 / F-beta, and the confusion counts.

Formulas follow keras.src.losses / keras.src.metrics with the TensorFlow backend (backend.epsilon() = 1e-7 where
Keras clips); values are computed in float64 and come back as float32, so they agree with Keras to float32 rounding.
One difference inside fit: Keras's TensorFlow backend hands a cross-entropy metric the pre-activation logits of a
sigmoid or softmax output, while these metrics see the output probabilities, as they do called standalone. The
values agree until probabilities saturate in float32 (|logit| beyond ~16), and a `from_logits=True` cross-entropy
metric on such an output measures the probabilities as logits here (Keras warns and uses the logits).
"""
from __future__ import annotations

import numbers

import numpy as np

from .base import Mean, MeanMetricWrapper, Metric, _squeeze_or_expand_to_same_rank
from .confusion import _confusion_counts, _ThresholdMetric

EPSILON = 1e-7


def _pair(y_true, y_pred):
    y_true, y_pred = _squeeze_or_expand_to_same_rank(np.asarray(y_true, np.float64), np.asarray(y_pred, np.float64))
    return y_true, y_pred


# ---- per-sample functions (keras.losses / keras.metrics names) --------------------------------------------------

def mean_absolute_percentage_error(y_true, y_pred):
    y_true, y_pred = _pair(y_true, y_pred)
    return 100.0 * np.mean(np.abs((y_true - y_pred) / np.maximum(np.abs(y_true), EPSILON)), axis=-1)


def mean_squared_logarithmic_error(y_true, y_pred):
    y_true, y_pred = _pair(y_true, y_pred)
    first, second = np.log(np.maximum(y_pred, EPSILON) + 1.0), np.log(np.maximum(y_true, EPSILON) + 1.0)
    return np.mean(np.square(first - second), axis=-1)


def log_cosh(y_true, y_pred):
    y_true, y_pred = _pair(y_true, y_pred)
    x = y_pred - y_true
    return np.mean(x + np.logaddexp(0.0, -2.0 * x) - np.log(2.0), axis=-1)  # softplus(-2x) without overflow


def cosine_similarity(y_true, y_pred, axis=-1):
    y_true, y_pred = _pair(y_true, y_pred)

    def unit(x):
        return x / np.sqrt(np.maximum(np.sum(np.square(x), axis=axis, keepdims=True), 1e-12))

    return np.sum(unit(y_true) * unit(y_pred), axis=axis)


def kl_divergence(y_true, y_pred):
    y_true, y_pred = _pair(y_true, y_pred)
    y_true, y_pred = np.clip(y_true, EPSILON, 1.0), np.clip(y_pred, EPSILON, 1.0)
    return np.sum(y_true * np.log(y_true / y_pred), axis=-1)


def poisson(y_true, y_pred):
    y_true, y_pred = _pair(y_true, y_pred)
    return np.mean(y_pred - y_true * np.log(y_pred + EPSILON), axis=-1)


def _hinge_labels(y_true):
    """Keras's convert_binary_labels_to_hinge: 0/1 labels become -1/1; other labels are kept."""
    return 2.0 * y_true - 1.0 if np.all((y_true == 0) | (y_true == 1)) else y_true


def hinge(y_true, y_pred):
    y_true, y_pred = _pair(y_true, y_pred)
    return np.mean(np.maximum(1.0 - _hinge_labels(y_true) * y_pred, 0.0), axis=-1)


def squared_hinge(y_true, y_pred):
    y_true, y_pred = _pair(y_true, y_pred)
    return np.mean(np.square(np.maximum(1.0 - _hinge_labels(y_true) * y_pred, 0.0)), axis=-1)


def categorical_hinge(y_true, y_pred):
    y_true, y_pred = _pair(y_true, y_pred)
    positive = np.sum(y_true * y_pred, axis=-1)
    negative = np.max((1.0 - y_true) * y_pred, axis=-1)
    return np.maximum(negative - positive + 1.0, 0.0)


def binary_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0):
    y_true, y_pred = _pair(y_true, y_pred)
    if label_smoothing:
        y_true = y_true * (1.0 - label_smoothing) + 0.5 * label_smoothing
    if from_logits:  # tf.nn.sigmoid_cross_entropy_with_logits
        values = np.maximum(y_pred, 0.0) - y_pred * y_true + np.log1p(np.exp(-np.abs(y_pred)))
    else:
        p = np.clip(y_pred, EPSILON, 1.0 - EPSILON)
        values = -(y_true * np.log(p + EPSILON) + (1.0 - y_true) * np.log(1.0 - p + EPSILON))
    return np.mean(values, axis=-1)


def _log_softmax(x, axis=-1):
    shifted = x - np.max(x, axis=axis, keepdims=True)
    return shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))


def categorical_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0, axis=-1):
    y_true, y_pred = np.asarray(y_true, np.float64), np.asarray(y_pred, np.float64)
    if label_smoothing:
        y_true = y_true * (1.0 - label_smoothing) + label_smoothing / y_pred.shape[axis]
    if from_logits:
        return -np.sum(y_true * _log_softmax(y_pred, axis), axis=axis)
    p = np.clip(y_pred / np.sum(y_pred, axis=axis, keepdims=True), EPSILON, 1.0 - EPSILON)
    return -np.sum(y_true * np.log(p), axis=axis)


def sparse_categorical_crossentropy(y_true, y_pred, from_logits=False, axis=-1):
    y_pred = np.asarray(y_pred, np.float64)
    labels = np.asarray(y_true)
    if labels.ndim == y_pred.ndim and labels.shape[-1] == 1:
        labels = labels[..., 0]
    logits = y_pred if from_logits else np.log(np.clip(y_pred, EPSILON, 1.0 - EPSILON))
    log_p = _log_softmax(np.moveaxis(logits, axis, -1))
    return -np.take_along_axis(log_p, labels.astype(np.int64)[..., None], axis=-1)[..., 0]


# ---- classes ---------------------------------------------------------------------------------------------------

def _wrapper(fn, default_name, direction, in_config=True, **fixed):
    """A MeanMetricWrapper subclass over `fn`, with Keras's default name and the keyword arguments in `fixed`
    (their defaults) as constructor arguments, written to get_config as Keras does (`in_config`)."""

    def __init__(self, name=default_name, dtype=None, **kwargs):
        unknown = set(kwargs) - set(fixed)
        if unknown:
            raise TypeError(f"Unrecognized keyword arguments passed to {type(self).__name__}: {sorted(unknown)}")
        options = {**fixed, **kwargs}
        if options.get("ignore_class") is not None:
            raise ValueError(f"convlite's {type(self).__name__} does not support `ignore_class`. Received: "
                             f"ignore_class={options['ignore_class']!r}")
        options.pop("ignore_class", None)
        MeanMetricWrapper.__init__(self, fn, name=name, dtype=dtype, **options)
        self.__dict__.update(options)

    def get_config(self):
        config = MeanMetricWrapper.get_config(self)
        if in_config:
            config.update({key: getattr(self, key, None) for key in fixed})
        return config

    return {"__init__": __init__, "get_config": get_config, "_direction": direction}


MeanAbsolutePercentageError = type("MeanAbsolutePercentageError", (MeanMetricWrapper,),
                                   _wrapper(mean_absolute_percentage_error, "mean_absolute_percentage_error", "down"))
MeanSquaredLogarithmicError = type("MeanSquaredLogarithmicError", (MeanMetricWrapper,),
                                   _wrapper(mean_squared_logarithmic_error, "mean_squared_logarithmic_error", "down"))
LogCoshError = type("LogCoshError", (MeanMetricWrapper,), _wrapper(log_cosh, "logcosh", "down"))
CosineSimilarity = type("CosineSimilarity", (MeanMetricWrapper,),
                        _wrapper(cosine_similarity, "cosine_similarity", "up", in_config=False, axis=-1))
KLDivergence = type("KLDivergence", (MeanMetricWrapper,), _wrapper(kl_divergence, "kl_divergence", "down"))
Poisson = type("Poisson", (MeanMetricWrapper,), _wrapper(poisson, "poisson", "down"))
Hinge = type("Hinge", (MeanMetricWrapper,), _wrapper(hinge, "hinge", "down"))
SquaredHinge = type("SquaredHinge", (MeanMetricWrapper,), _wrapper(squared_hinge, "squared_hinge", "down"))
CategoricalHinge = type("CategoricalHinge", (MeanMetricWrapper,),
                        _wrapper(categorical_hinge, "categorical_hinge", "down"))
BinaryCrossentropy = type("BinaryCrossentropy", (MeanMetricWrapper,),
                          _wrapper(binary_crossentropy, "binary_crossentropy", "down", from_logits=False,
                                   label_smoothing=0.0))
CategoricalCrossentropy = type("CategoricalCrossentropy", (MeanMetricWrapper,),
                               _wrapper(categorical_crossentropy, "categorical_crossentropy", "down",
                                        from_logits=False, label_smoothing=0.0, axis=-1))
SparseCategoricalCrossentropy = type("SparseCategoricalCrossentropy", (MeanMetricWrapper,),
                                     _wrapper(sparse_categorical_crossentropy, "sparse_categorical_crossentropy",
                                              "down", from_logits=False, ignore_class=None, axis=-1))


class RootMeanSquaredError(Mean):
    """sqrt of the (weighted) mean of the squared errors (keras.metrics.RootMeanSquaredError)."""

    _direction = "down"

    def __init__(self, name="root_mean_squared_error", dtype=None):
        super().__init__(name=name, dtype=dtype)

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_true, y_pred = _pair(y_true, y_pred)
        super().update_state(np.square(y_pred - y_true), sample_weight=sample_weight)

    def result(self):
        return np.float32(np.sqrt(self.total / self.count) if self.count else 0.0)

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype}


def _check_2d(metric, y_true, y_pred):
    if y_pred.ndim != 2 or y_true.ndim != 2:
        raise ValueError(f"{type(metric).__name__} expects 2D inputs with shape (batch_size, output_dim). Received "
                         f"input shapes: y_pred.shape={y_pred.shape} and y_true.shape={y_true.shape}.")


class FBetaScore(Metric):
    """keras.metrics.FBetaScore: per-class (average=None), micro, macro or weighted F-beta from thresholded
    predictions (the row's maximum when threshold is None)."""

    _direction = "up"

    def __init__(self, average=None, beta=1.0, threshold=None, name="fbeta_score", dtype=None):
        super().__init__(name=name, dtype=dtype)
        if average not in (None, "micro", "macro", "weighted"):
            raise ValueError("Invalid `average` argument value. Expected one of: {None, 'micro', 'macro', "
                             f"'weighted'}}. Received: average={average}")
        if not isinstance(beta, float):
            raise ValueError(f"Invalid `beta` argument value. It should be a Python float. Received: beta={beta} "
                             f"of type '{type(beta)}'")
        if beta <= 0.0:
            raise ValueError(f"Invalid `beta` argument value. It should be > 0. Received: beta={beta}")
        if threshold is not None:
            if not isinstance(threshold, float):
                raise ValueError(f"Invalid `threshold` argument value. It should be a Python float. Received: "
                                 f"threshold={threshold} of type '{type(threshold)}'")
            if threshold > 1.0 or threshold <= 0.0:
                raise ValueError(f"Invalid `threshold` argument value. It should verify 0 < threshold <= 1. "
                                 f"Received: threshold={threshold}")
        self.average, self.beta, self.threshold = average, beta, threshold
        self.reset_state()

    def reset_state(self):
        self.true_positives = self.false_positives = self.false_negatives = self.intermediate_weights = 0.0

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_true, y_pred = np.asarray(y_true, np.float64), np.asarray(y_pred, np.float64)
        _check_2d(self, y_true, y_pred)
        if self.threshold is None:  # the row's top score (not an all-zero row)
            predicted = (y_pred >= y_pred.max(axis=-1, keepdims=True)) & (np.abs(y_pred) > 1e-9)
        else:
            predicted = y_pred > self.threshold
        predicted = predicted.astype(np.float64)
        axis = None if self.average == "micro" else 0

        def weighted_sum(values):
            if sample_weight is not None:
                values = values * np.asarray(sample_weight, np.float64).reshape(-1, 1)
            return np.sum(values, axis=axis)

        self.true_positives = self.true_positives + weighted_sum(predicted * y_true)
        self.false_positives = self.false_positives + weighted_sum(predicted * (1.0 - y_true))
        self.false_negatives = self.false_negatives + weighted_sum((1.0 - predicted) * y_true)
        self.intermediate_weights = self.intermediate_weights + weighted_sum(y_true)

    def result(self):
        tp = np.asarray(self.true_positives, np.float64)
        precision = tp / (tp + self.false_positives + EPSILON)
        recall = tp / (tp + self.false_negatives + EPSILON)
        beta2 = self.beta ** 2
        score = precision * recall / (beta2 * precision + recall + EPSILON) * (1.0 + beta2)
        if self.average == "weighted":
            weights = np.asarray(self.intermediate_weights, np.float64)
            score = np.sum(score * weights / (np.sum(weights) + EPSILON))
        elif self.average is not None:
            score = np.mean(score)
        return np.asarray(score, np.float32) if np.ndim(score) else np.float32(score)

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype, "beta": self.beta, "average": self.average,
                "threshold": self.threshold}


class F1Score(FBetaScore):
    """keras.metrics.F1Score: FBetaScore with beta = 1."""

    def __init__(self, average=None, threshold=None, name="f1_score", dtype=None):
        super().__init__(average=average, beta=1.0, threshold=threshold, name=name, dtype=dtype)

    def get_config(self):
        config = super().get_config()
        del config["beta"]
        return config


class R2Score(Metric):
    """keras.metrics.R2Score: coefficient of determination per output, then averaged (uniform or by variance) or
    not, optionally adjusted for `num_regressors`."""

    _direction = "up"

    def __init__(self, class_aggregation="uniform_average", num_regressors=0, name="r2_score", dtype=None):
        super().__init__(name=name, dtype=dtype)
        allowed = (None, "uniform_average", "variance_weighted_average")
        if class_aggregation not in allowed:
            raise ValueError(f"Invalid value for argument `class_aggregation`. Expected one of {allowed}. "
                             f"Received: class_aggregation={class_aggregation}")
        if not isinstance(num_regressors, numbers.Integral) or num_regressors < 0:
            raise ValueError(f"Invalid value for argument `num_regressors`. Expected a value >= 0. Received: "
                             f"num_regressors={num_regressors}")
        self.class_aggregation, self.num_regressors = class_aggregation, int(num_regressors)
        self.reset_state()

    def reset_state(self):
        self.sum = self.squared_sum = self.total_mse = self.count = 0.0
        self.num_samples = 0

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_true, y_pred = _pair(y_true, y_pred)
        _check_2d(self, y_true, y_pred)
        weight = np.ones(()) if sample_weight is None else np.asarray(sample_weight, np.float64)
        if weight.ndim == 1:
            weight = weight[:, None]
        weight = np.broadcast_to(weight, y_true.shape)
        self.sum = self.sum + np.sum(y_true * weight, axis=0)
        self.squared_sum = self.squared_sum + np.sum(y_true * y_true * weight, axis=0)
        self.total_mse = self.total_mse + np.sum((y_true - y_pred) ** 2 * weight, axis=0)
        self.count = self.count + np.sum(weight, axis=0)
        self.num_samples += y_true.size

    def result(self):
        with np.errstate(divide="ignore", invalid="ignore"):
            mean = self.sum / self.count
            total = self.squared_sum - self.sum * mean
            raw = 1.0 - self.total_mse / total
        raw = np.where(np.isinf(raw), 0.0, raw)
        if self.class_aggregation == "uniform_average":
            score = np.mean(raw)
        elif self.class_aggregation == "variance_weighted_average":
            score = np.sum(total * raw) / np.sum(total)
        else:
            score = raw
        n, p = self.num_samples, self.num_regressors
        if p and p < n - 1:  # Keras falls back to the plain score otherwise (with a warning)
            score = 1.0 - (1.0 - score) * (n - 1.0) / (n - p - 1.0)
        return np.asarray(score, np.float32) if np.ndim(score) else np.float32(score)

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype, "class_aggregation": self.class_aggregation,
                "num_regressors": self.num_regressors}


class _Count(_ThresholdMetric):
    """One confusion count at each threshold (default 0.5), as Keras's TruePositives & co."""

    _which = 0

    def __init__(self, thresholds=None, name=None, dtype=None):
        super().__init__(thresholds=thresholds, name=name, dtype=dtype)

    def reset_state(self):
        self.accumulator = np.zeros(len(self.thresholds))

    def update_state(self, y_true, y_pred, sample_weight=None):
        counts = _confusion_counts(y_true, y_pred, self.thresholds, self._evenly, sample_weight)
        self.accumulator += counts[self._which]

    def result(self):
        return self._finish(self.accumulator)

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype, "thresholds": self.init_thresholds}


class TruePositives(_Count):
    _which = 0


class FalsePositives(_Count):
    _which = 1
    _direction = "down"


class TrueNegatives(_Count):
    _which = 2


class FalseNegatives(_Count):
    _which = 3
    _direction = "down"


CLASSES = (MeanAbsolutePercentageError, MeanSquaredLogarithmicError, LogCoshError, CosineSimilarity, KLDivergence,
           Poisson, Hinge, SquaredHinge, CategoricalHinge, BinaryCrossentropy, CategoricalCrossentropy,
           SparseCategoricalCrossentropy, RootMeanSquaredError, FBetaScore, F1Score, R2Score, TruePositives,
           FalsePositives, TrueNegatives, FalseNegatives)
for _cls in CLASSES:
    _cls.__module__ = __name__
# Keras's string aliases beyond each class's snake_case name (keras.metrics.get accepts these).
ALIASES = {"mape": MeanAbsolutePercentageError, "MAPE": MeanAbsolutePercentageError,
           "msle": MeanSquaredLogarithmicError, "MSLE": MeanSquaredLogarithmicError, "log_cosh_error": LogCoshError}

"""Metrics with Keras 3's names, arguments, results and 'accuracy' resolution, vectorised in numpy.

Each metric keeps running state across ``update_state`` calls (float64 accumulators; Keras keeps float32, so
results agree to float32 rounding) and ``result()`` returns a float32 numpy scalar. ``get(identifier, ...)``
resolves names as ``model.compile(metrics=[...])`` does, including 'accuracy'/'acc', which Keras turns into
binary, sparse categorical or categorical accuracy from the shapes of y_true and y_pred.
"""
from __future__ import annotations

import inspect
import re

import numpy as np

__all__ = [
    "AUC", "Accuracy", "BinaryAccuracy", "CategoricalAccuracy", "Mean", "MeanAbsoluteError", "MeanMetricWrapper",
    "MeanSquaredError", "Metric", "Precision", "Recall", "SparseCategoricalAccuracy",
    "SparseTopKCategoricalAccuracy", "TopKCategoricalAccuracy", "get", "get_metric",
]

NEG_INF = -1e10
_EPSILON = 1e-7
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


# ---- confusion-matrix metrics ------------------------------------------------------------------------------------

def _evenly_distributed(thresholds):
    n = len(thresholds)
    if n < 3:
        return False
    return np.allclose(thresholds, np.arange(n, dtype=np.float32) / (n - 1), atol=_EPSILON)


def _confusion_counts(y_true, y_pred, thresholds, evenly, sample_weight=None, top_k=None, class_id=None):
    """(tp, fp, tn, fn) per threshold, counting `y_pred > threshold` as positive (keras metrics_utils)."""
    y_true = _as_float(y_true)
    y_pred = _as_float(y_pred)
    y_pred, y_true = _squeeze_or_expand_to_same_rank(y_pred, y_true)
    weights = None
    if sample_weight is not None:
        weights = _as_float(sample_weight)[..., None]
        _, weights = _squeeze_or_expand_to_same_rank(y_true, weights, expand_rank_1=False)
    if top_k is not None:
        order = np.argsort(-y_pred, axis=-1, kind="stable")[..., :top_k]
        mask = np.zeros(y_pred.shape, bool)
        np.put_along_axis(mask, order, True, axis=-1)
        y_pred = np.where(mask, y_pred, np.float32(NEG_INF))
    if class_id is not None:
        if y_pred.ndim == 1:
            raise ValueError(
                "When class_id is provided, y_pred must be a 2D array with shape (num_samples, num_classes), "
                f"found shape: {y_pred.shape}"
            )
        y_true = y_true[..., class_id, None]
        y_pred = y_pred[..., class_id, None]
    weights = np.ones(y_pred.shape, np.float64) if weights is None else np.broadcast_to(weights, y_pred.shape)
    labels = (y_true != 0).reshape(-1)
    preds = y_pred.reshape(-1)
    weights = weights.reshape(-1).astype(np.float64)
    thresholds = np.asarray(thresholds, dtype=np.float32)
    n = thresholds.shape[0]
    true_w = np.where(labels, weights, 0.0)
    false_w = np.where(labels, 0.0, weights)
    if evenly:
        # Keras's bucketed path: each prediction lands in one bucket; cumulative sums from the top give the
        # counts above every threshold in O(N + T).
        bucket = np.ceil(np.clip(preds, 0.0, 1.0) * np.float32(n - 1)) - 1
        if thresholds[0] < 0.0 or thresholds[-1] > 1.0:
            bucket = np.maximum(bucket, 0)
        bucket = bucket.astype(np.int64)
        keep = bucket >= 0  # segment_sum drops negative ids
        tp = np.bincount(bucket[keep], true_w[keep], minlength=n)[::-1].cumsum()[::-1]
        fp = np.bincount(bucket[keep], false_w[keep], minlength=n)[::-1].cumsum()[::-1]
    else:
        above = preds[None, :] > thresholds[:, None]
        tp = (above * true_w).sum(axis=1)
        fp = (above * false_w).sum(axis=1)
    return tp, fp, false_w.sum() - fp, true_w.sum() - tp


def _divide_no_nan(a, b):
    a = np.asarray(a, np.float64)
    b = np.asarray(b, np.float64)
    return np.divide(a, b, out=np.zeros(np.broadcast(a, b).shape), where=b != 0)


class _ThresholdMetric(Metric):
    _direction = "up"

    def __init__(self, thresholds=None, top_k=None, class_id=None, name=None, dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.init_thresholds = thresholds
        self.top_k = top_k
        self.class_id = class_id
        if thresholds is not None:
            for t in np.atleast_1d(thresholds):
                if not 0.0 <= t <= 1.0:
                    raise ValueError(f"Threshold values must be in [0, 1]. Received: {thresholds}")
        default = 0.5 if top_k is None else NEG_INF
        self.thresholds = list(np.atleast_1d(default if thresholds is None else thresholds).tolist())
        self._evenly = _evenly_distributed(self.thresholds)
        self.reset_state()

    def reset_state(self):
        self.true_positives = np.zeros(len(self.thresholds))
        self.false_positives = np.zeros(len(self.thresholds))
        self.false_negatives = np.zeros(len(self.thresholds))

    def update_state(self, y_true, y_pred, sample_weight=None):
        tp, fp, _, fn = _confusion_counts(y_true, y_pred, self.thresholds, self._evenly, sample_weight,
                                          self.top_k, self.class_id)
        self.true_positives += tp
        self.false_positives += fp
        self.false_negatives += fn

    def _finish(self, values):
        values = values.astype(np.float32)
        return values[0] if len(self.thresholds) == 1 else values

    def get_config(self):
        return {**super().get_config(), "thresholds": self.init_thresholds, "top_k": self.top_k,
                "class_id": self.class_id}


class Precision(_ThresholdMetric):
    def result(self):
        return self._finish(_divide_no_nan(self.true_positives, self.true_positives + self.false_positives))


class Recall(_ThresholdMetric):
    def result(self):
        return self._finish(_divide_no_nan(self.true_positives, self.true_positives + self.false_negatives))


class AUC(Metric):
    """Area under the ROC or PR curve from counts at `num_thresholds` thresholds (Keras's Riemann sums)."""

    _direction = "up"

    def __init__(self, num_thresholds=200, curve="ROC", summation_method="interpolation", name=None, dtype=None,
                 thresholds=None, from_logits=False):
        curve, summation_method = str(curve).upper(), str(summation_method).lower()
        if curve not in ("ROC", "PR"):
            raise ValueError(f'Invalid AUC curve value: "{curve}". Expected values are ["PR", "ROC"]')
        if summation_method not in ("interpolation", "majoring", "minoring"):
            raise ValueError(f'Invalid AUC summation method value: "{summation_method}". Expected values are '
                             '["interpolation", "majoring", "minoring"]')
        self._init_from_thresholds = thresholds is not None
        if thresholds is not None:
            self.num_thresholds = len(thresholds) + 2
            thresholds = sorted(thresholds)
            self._evenly = _evenly_distributed(np.array([0.0] + thresholds + [1.0]))
        else:
            if num_thresholds <= 1:
                raise ValueError(f"Argument `num_thresholds` must be an integer > 1. "
                                 f"Received: num_thresholds={num_thresholds}")
            self.num_thresholds = num_thresholds
            thresholds = [(i + 1) * 1.0 / (num_thresholds - 1) for i in range(num_thresholds - 2)]
            self._evenly = True
        self._thresholds = np.array([0.0 - _EPSILON] + thresholds + [1.0 + _EPSILON])
        self.curve = curve
        self.summation_method = summation_method
        self._from_logits = from_logits
        super().__init__(name=name, dtype=dtype)
        self.reset_state()

    @property
    def thresholds(self):
        return list(self._thresholds)

    def reset_state(self):
        shape = (self.num_thresholds,)
        self.true_positives, self.false_positives = np.zeros(shape), np.zeros(shape)
        self.true_negatives, self.false_negatives = np.zeros(shape), np.zeros(shape)

    def update_state(self, y_true, y_pred, sample_weight=None):
        if self._from_logits:
            y_pred = 1.0 / (1.0 + np.exp(-_as_float(y_pred)))
        tp, fp, tn, fn = _confusion_counts(y_true, y_pred, self._thresholds, self._evenly, sample_weight)
        self.true_positives += tp
        self.false_positives += fp
        self.true_negatives += tn
        self.false_negatives += fn

    def _interpolate_pr_auc(self):
        tp, fp, fn = self.true_positives, self.false_positives, self.false_negatives
        dtp = tp[:-1] - tp[1:]
        p = tp + fp
        dp = p[:-1] - p[1:]
        prec_slope = _divide_no_nan(dtp, np.maximum(dp, 0))
        intercept = tp[1:] - prec_slope * p[1:]
        both = (p[:-1] > 0) & (p[1:] > 0)
        safe_p_ratio = np.where(both, _divide_no_nan(p[:-1], np.maximum(p[1:], 0)), 1.0)
        increments = _divide_no_nan(prec_slope * (dtp + intercept * np.log(safe_p_ratio)),
                                    np.maximum(tp[1:] + fn[1:], 0))
        return np.float32(increments.sum())

    def result(self):
        if self.curve == "PR" and self.summation_method == "interpolation":
            return self._interpolate_pr_auc()
        recall = _divide_no_nan(self.true_positives, self.true_positives + self.false_negatives)
        if self.curve == "ROC":
            x = _divide_no_nan(self.false_positives, self.false_positives + self.true_negatives)
            y = recall
        else:
            x = recall
            y = _divide_no_nan(self.true_positives, self.true_positives + self.false_positives)
        if self.summation_method == "interpolation":
            heights = (y[:-1] + y[1:]) / 2.0
        elif self.summation_method == "minoring":
            heights = np.minimum(y[:-1], y[1:])
        else:
            heights = np.maximum(y[:-1], y[1:])
        return np.float32(((x[:-1] - x[1:]) * heights).sum())

    def get_config(self):
        config = {**super().get_config(), "num_thresholds": self.num_thresholds, "curve": self.curve,
                  "summation_method": self.summation_method, "multi_label": False, "num_labels": None,
                  "label_weights": None, "from_logits": self._from_logits}
        if self._init_from_thresholds:
            config["thresholds"] = self.thresholds[1:-1]
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for key in ("multi_label", "num_labels", "label_weights"):
            config.pop(key, None)
        return cls(**config)


# ---- name resolution -------------------------------------------------------------------------------------------

_CLASSES = (AUC, Accuracy, BinaryAccuracy, CategoricalAccuracy, Mean, MeanAbsoluteError, MeanSquaredError,
            Precision, Recall, SparseCategoricalAccuracy, SparseTopKCategoricalAccuracy, TopKCategoricalAccuracy)
ALL_OBJECTS_DICT = {cls.__name__: cls for cls in _CLASSES}
ALL_OBJECTS_DICT.update({_snake_case(cls.__name__): cls for cls in _CLASSES})
ALL_OBJECTS_DICT.update({"mse": MeanSquaredError, "MSE": MeanSquaredError, "mae": MeanAbsoluteError,
                         "MAE": MeanAbsoluteError})
_ACCURACY_BY_LOSS = {"binary_crossentropy": BinaryAccuracy, "categorical_crossentropy": CategoricalAccuracy,
                     "sparse_categorical_crossentropy": SparseCategoricalAccuracy}


def _shape(x):
    return tuple(x.shape) if hasattr(x, "shape") else tuple(x)


def _loss_name(loss):
    if loss is None or isinstance(loss, str):
        return loss
    name = getattr(loss, "name", None) or getattr(loss, "__name__", None) or type(loss).__name__
    return _snake_case(name) if name[:1].isupper() else name


def _resolve_accuracy(identifier, loss, y_true, y_pred):
    if y_true is not None and y_pred is not None:
        # Keras's rule (trainers/compile_utils.py): binary when y_pred has one column; sparse when y_true has
        # lower rank, or one column against several; categorical otherwise.
        t, p = _shape(y_true), _shape(y_pred)
        if p[-1] == 1:
            return BinaryAccuracy(name=identifier)
        if len(t) < len(p) or (t[-1] == 1 and p[-1] > 1):
            return SparseCategoricalAccuracy(name=identifier)
        return CategoricalAccuracy(name=identifier)
    cls = _ACCURACY_BY_LOSS.get(_loss_name(loss))
    if cls is None:
        raise ValueError(
            f"Cannot resolve metric {identifier!r} without the shapes of y_true and y_pred unless the loss is one "
            f"of {sorted(_ACCURACY_BY_LOSS)}. Received: loss={loss!r}"
        )
    return cls(name=identifier)


def get(identifier, loss=None, y_true=None, y_pred=None):
    """Resolve a metric as ``compile(metrics=[...])`` does: a name, config dict, class or instance.

    'accuracy'/'acc' become BinaryAccuracy / SparseCategoricalAccuracy / CategoricalAccuracy: from the shapes of
    `y_true` and `y_pred` (arrays or shape tuples, Keras's rule) when given, otherwise from the cross-entropy
    `loss`. A name given as a string becomes the metric's ``.name`` (so history keys read 'accuracy', 'acc',
    'mse', 'AUC' exactly as the user wrote them).
    """
    if identifier is None:
        raise ValueError("Expected metric, received `None`")
    if isinstance(identifier, str):
        if identifier.lower() in ("accuracy", "acc"):
            return _resolve_accuracy(identifier, loss, y_true, y_pred)
        cls = ALL_OBJECTS_DICT.get(identifier)
        if cls is None:
            allowed = sorted({n for n in ALL_OBJECTS_DICT if n == n.lower()} | {"accuracy", "acc"})
            raise ValueError(
                f"Could not interpret metric identifier: {identifier!r}. Expected one of {allowed}. "
                f"Received: metric={identifier!r}"
            )
        metric = cls()
        metric.name = identifier
        return metric
    if isinstance(identifier, dict):
        cls = ALL_OBJECTS_DICT.get(identifier.get("class_name"))
        if cls is None:
            raise ValueError(f"Could not interpret metric identifier: {identifier}")
        return cls.from_config(dict(identifier.get("config") or {}))
    if inspect.isclass(identifier) and issubclass(identifier, Metric):
        return identifier()
    if isinstance(identifier, Metric):
        return identifier
    if callable(identifier):
        return MeanMetricWrapper(identifier)
    raise ValueError(f"Could not interpret metric identifier: {identifier!r}")


get_metric = get

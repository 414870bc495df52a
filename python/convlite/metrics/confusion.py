"""Confusion-matrix metrics: Precision, Recall and AUC, with Keras's threshold counting and Riemann sums."""
from __future__ import annotations

import numpy as np

from .base import Metric, _as_float, _squeeze_or_expand_to_same_rank

NEG_INF = -1e10
_EPSILON = 1e-7


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
                 thresholds=None, multi_label=False, num_labels=None, label_weights=None, from_logits=False):
        for arg, value in (("multi_label", multi_label), ("num_labels", num_labels), ("label_weights", label_weights)):
            if value is not None and value is not False:
                raise ValueError(f"convlite's AUC pools every label into one curve and does not support `{arg}`. "
                                 f"Received: {arg}={value!r}")
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
        return cls(**config)  # a Keras config's multi_label / num_labels / label_weights are refused if set

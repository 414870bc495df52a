"""Metrics with Keras 3's names, arguments, results and 'accuracy' resolution, vectorised in numpy.

Each metric keeps running state across ``update_state`` calls (float64 accumulators; Keras keeps float32, so
results agree to float32 rounding) and ``result()`` returns a float32 numpy scalar. ``get(identifier, ...)``
resolves names as ``model.compile(metrics=[...])`` does, including 'accuracy'/'acc', which Keras turns into
binary, sparse categorical or categorical accuracy from the shapes of y_true and y_pred.
"""
from __future__ import annotations

import inspect

from .base import (
    Accuracy, BinaryAccuracy, CategoricalAccuracy, Mean, MeanAbsoluteError, MeanMetricWrapper, MeanSquaredError,
    Metric, SparseCategoricalAccuracy, SparseTopKCategoricalAccuracy, TopKCategoricalAccuracy, _snake_case,
    accuracy, binary_accuracy, categorical_accuracy, mean_absolute_error, mean_squared_error,
    sparse_categorical_accuracy, sparse_top_k_categorical_accuracy, top_k_categorical_accuracy,
)
from .confusion import AUC, Precision, Recall
from .more import (
    ALIASES as _MORE_ALIASES, CLASSES as _MORE_CLASSES, BinaryCrossentropy, CategoricalCrossentropy,
    CategoricalHinge, CosineSimilarity, F1Score, FalseNegatives, FalsePositives, FBetaScore, Hinge, KLDivergence,
    LogCoshError, MeanAbsolutePercentageError, MeanSquaredLogarithmicError, Poisson, R2Score, RootMeanSquaredError,
    SparseCategoricalCrossentropy, SquaredHinge, TrueNegatives, TruePositives, binary_crossentropy,
    categorical_crossentropy, categorical_hinge, cosine_similarity, hinge, kl_divergence, log_cosh,
    mean_absolute_percentage_error, mean_squared_logarithmic_error, poisson, sparse_categorical_crossentropy,
    squared_hinge,
)

__all__ = [
    "AUC", "Accuracy", "BinaryAccuracy", "CategoricalAccuracy", "Mean", "MeanAbsoluteError", "MeanMetricWrapper",
    "MeanSquaredError", "Metric", "Precision", "Recall", "SparseCategoricalAccuracy",
    "SparseTopKCategoricalAccuracy", "TopKCategoricalAccuracy", "get", "get_metric",
    "BinaryCrossentropy", "CategoricalCrossentropy", "CategoricalHinge", "CosineSimilarity", "F1Score",
    "FalseNegatives", "FalsePositives", "FBetaScore", "Hinge", "KLDivergence", "LogCoshError",
    "MeanAbsolutePercentageError", "MeanSquaredLogarithmicError", "Poisson", "R2Score", "RootMeanSquaredError",
    "SparseCategoricalCrossentropy", "SquaredHinge", "TrueNegatives", "TruePositives",
    # per-sample functions, as keras.metrics exports them
    "accuracy", "binary_accuracy", "categorical_accuracy", "mean_absolute_error", "mean_squared_error",
    "sparse_categorical_accuracy", "sparse_top_k_categorical_accuracy", "top_k_categorical_accuracy",
    "binary_crossentropy", "categorical_crossentropy", "categorical_hinge", "cosine_similarity", "hinge",
    "kl_divergence", "log_cosh", "mean_absolute_percentage_error", "mean_squared_logarithmic_error", "poisson",
    "sparse_categorical_crossentropy", "squared_hinge",
]

_CLASSES = (AUC, Accuracy, BinaryAccuracy, CategoricalAccuracy, Mean, MeanAbsoluteError, MeanSquaredError,
            Precision, Recall, SparseCategoricalAccuracy, SparseTopKCategoricalAccuracy,
            TopKCategoricalAccuracy) + _MORE_CLASSES
ALL_OBJECTS_DICT = {cls.__name__: cls for cls in _CLASSES}
ALL_OBJECTS_DICT.update({_snake_case(cls.__name__): cls for cls in _CLASSES})
ALL_OBJECTS_DICT.update({"mse": MeanSquaredError, "MSE": MeanSquaredError, "mae": MeanAbsoluteError,
                         "MAE": MeanAbsoluteError, **_MORE_ALIASES})
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
        if type(identifier).__module__.split(".")[0] in ("keras", "tensorflow", "tf_keras"):
            raise ValueError("convlite computes its own metrics: pass a name or a convlite.metrics object, not a "
                             f"Keras one. Received: metric={identifier!r}")
        # Keras names a function metric by get_object_name: to_snake_case of __name__ ('<lambda>' -> 'lambda'),
        # or of the class name for a callable without one (functools.partial -> 'partial').
        name = getattr(identifier, "__name__", None) or type(identifier).__name__
        return MeanMetricWrapper(identifier, name=_snake_case(name))
    raise ValueError(f"Could not interpret metric identifier: {identifier!r}")


get_metric = get

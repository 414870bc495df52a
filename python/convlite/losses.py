"""Losses with Keras 3's names, configs and values, computed (with their gradients) by convlite's C++ core.

Every loss averages over the batch the way Keras's default ``reduction="sum_over_batch_size"`` does:
``sum_i(sample_weight_i * loss_i) / batch`` where ``loss_i`` is the mean over the last axis (or, for the
categorical losses, the cross-entropy over the classes). Probabilities are clipped to ``[1e-7, 1 - 1e-7]``.

>>> import numpy as np, convlite
>>> loss = convlite.losses.get("categorical_crossentropy")
>>> float(loss(np.eye(2, dtype="float32"), np.array([[0.9, 0.1], [0.2, 0.8]], "float32")))  # doctest: +ELLIPSIS
0.16425...

Each loss also offers ``value_and_grad(y_true, y_pred, sample_weight=None)`` (the loss and d loss / d y_pred) and
``_core_spec()``, the dict the compiled training step uses.
"""
from __future__ import annotations

import numpy as np

from . import _core

__all__ = [
    "Loss", "BinaryCrossentropy", "CategoricalCrossentropy", "SparseCategoricalCrossentropy", "MeanSquaredError",
    "MeanAbsoluteError", "Huber", "binary_crossentropy", "categorical_crossentropy",
    "sparse_categorical_crossentropy", "mean_squared_error", "mean_absolute_error", "huber", "mse", "mae", "get",
    "serialize", "deserialize",
]

_REDUCTIONS = ("sum_over_batch_size",)


def _as_float32(x, name):
    try:
        return np.ascontiguousarray(x, dtype=np.float32)
    except (TypeError, ValueError) as error:
        raise TypeError(f"Argument `{name}` must be array-like of numbers. Received: {name}={x!r}") from error


class Loss:
    """Base class: holds the name and reduction, turns arrays into the 2-D form the core works on."""

    _kind = None  # the _core.loss kind
    _categorical = False  # 1-D predictions are one sample's classes rather than one value per sample

    def __init__(self, name=None, reduction="sum_over_batch_size", dtype=None):
        if reduction not in _REDUCTIONS:
            raise ValueError("convlite losses support reduction='sum_over_batch_size' (Keras's default). "
                             f"Received: reduction={reduction!r}")
        if dtype not in (None, "float32"):
            raise ValueError(f"convlite losses compute in float32. Received: dtype={dtype!r}")
        self.name = name
        self.reduction = reduction
        self.dtype = "float32"

    # ------------------------------------------------------------------ core interface
    def _core_spec(self) -> dict:
        return dict(kind=self._kind, from_logits=bool(getattr(self, "from_logits", False)),
                    label_smoothing=float(getattr(self, "label_smoothing", 0.0)),
                    delta=float(getattr(self, "delta", 1.0)))

    def _prepare(self, y_true, y_pred, sample_weight):
        y_pred = _as_float32(y_pred, "y_pred")
        y_true = _as_float32(y_true, "y_true")
        if y_pred.ndim == 0:
            raise ValueError(f"Argument `y_pred` must be at least 1-D. Received: y_pred.shape={y_pred.shape}")
        # Keras's squeeze_or_expand_to_same_rank: a trailing axis of size 1 is added or removed on y_true.
        if y_true.ndim == y_pred.ndim + 1 and y_true.shape[-1] == 1:
            y_true = y_true.reshape(y_true.shape[:-1])
        elif y_true.ndim + 1 == y_pred.ndim and y_pred.shape[-1] == 1:
            y_true = y_true.reshape(y_true.shape + (1,))
        if y_true.shape != y_pred.shape:
            raise ValueError("Arguments `y_true` and `y_pred` must have the same shape. "
                             f"Received: y_true.shape={y_true.shape}, y_pred.shape={y_pred.shape}")
        if y_pred.ndim == 1:
            shape2d = (1, y_pred.size) if self._categorical else (y_pred.size, 1)
        else:
            shape2d = (int(np.prod(y_pred.shape[:-1])), y_pred.shape[-1])
        sample_shape = y_pred.shape[:-1] if y_pred.ndim > 1 or self._categorical else y_pred.shape
        return y_true.reshape(shape2d), y_pred.reshape(shape2d), self._weights(sample_weight, sample_shape)

    @staticmethod
    def _weights(sample_weight, sample_shape):
        if sample_weight is None:
            return None
        w = _as_float32(sample_weight, "sample_weight")
        while w.ndim > len(sample_shape) and w.shape[-1] == 1:
            w = w.reshape(w.shape[:-1])
        while w.ndim < len(sample_shape):  # (batch,) weights against (batch, steps) losses broadcast over steps
            w = w.reshape(w.shape + (1,))
        try:
            w = np.broadcast_to(w, sample_shape)
        except ValueError as error:
            raise ValueError("Argument `sample_weight` must broadcast to the per-sample loss shape "
                             f"{tuple(sample_shape)}. Received: sample_weight.shape={w.shape}") from error
        return np.ascontiguousarray(w.reshape(-1), dtype=np.float32)

    def value_and_grad(self, y_true, y_pred, sample_weight=None, need_grad=True):
        """The loss (float) and d loss / d y_pred (shaped like y_pred), or None if not need_grad."""
        shape = np.shape(y_pred)
        t, p, w = self._prepare(y_true, y_pred, sample_weight)
        value, grad = _core.loss(y_pred=p, y_true=t, sample_weight=w, need_grad=need_grad, **self._core_spec())
        return value, (grad.reshape(shape) if grad is not None else None)

    def __call__(self, y_true, y_pred, sample_weight=None):
        return np.float32(self.value_and_grad(y_true, y_pred, sample_weight, need_grad=False)[0])

    # ------------------------------------------------------------------ config
    def get_config(self) -> dict:
        return {"name": self.name, "reduction": self.reduction}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


class _Crossentropy(Loss):
    def __init__(self, from_logits=False, label_smoothing=0.0, axis=-1, reduction="sum_over_batch_size", name=None,
                 dtype=None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        if axis != -1:
            raise ValueError(f"convlite computes crossentropy on the last axis only. Received: axis={axis!r}")
        label_smoothing = float(label_smoothing)
        if not 0.0 <= label_smoothing <= 1.0:
            raise ValueError(f"Argument `label_smoothing` must be in [0, 1]. Received: label_smoothing={label_smoothing}")
        self.from_logits = bool(from_logits)
        self.label_smoothing = label_smoothing
        self.axis = axis

    def get_config(self):
        config = super().get_config()
        config.update(from_logits=self.from_logits, label_smoothing=self.label_smoothing, axis=self.axis)
        return config


class BinaryCrossentropy(_Crossentropy):
    """Binary cross-entropy; with ``from_logits=True`` the stable ``max(x,0) - x*z + log1p(exp(-|x|))`` form.
    Label smoothing squeezes targets towards 0.5: ``z * (1 - ls) + 0.5 * ls``."""

    _kind = "binary_crossentropy"

    def __init__(self, from_logits=False, label_smoothing=0.0, axis=-1, reduction="sum_over_batch_size",
                 name="binary_crossentropy", dtype=None):
        super().__init__(from_logits, label_smoothing, axis, reduction, name, dtype)


class CategoricalCrossentropy(_Crossentropy):
    """Categorical cross-entropy on one-hot (or soft) targets. Probabilities are renormalised to sum to one and
    clipped; logits use a stable log-sum-exp. Label smoothing: ``t * (1 - ls) + ls / classes``."""

    _kind = "categorical_crossentropy"
    _categorical = True

    def __init__(self, from_logits=False, label_smoothing=0.0, axis=-1, reduction="sum_over_batch_size",
                 name="categorical_crossentropy", dtype=None):
        super().__init__(from_logits, label_smoothing, axis, reduction, name, dtype)


class SparseCategoricalCrossentropy(Loss):
    """Categorical cross-entropy on integer class ids (shape ``y_pred.shape[:-1]``, or with a trailing 1)."""

    _kind = "sparse_categorical_crossentropy"
    _categorical = True

    def __init__(self, from_logits=False, ignore_class=None, reduction="sum_over_batch_size", axis=-1,
                 name="sparse_categorical_crossentropy", dtype=None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        if ignore_class is not None:
            raise ValueError(f"convlite does not support `ignore_class`. Received: ignore_class={ignore_class!r}")
        if axis != -1:
            raise ValueError(f"Only axis=-1 is supported. Received: axis={axis!r}")
        self.from_logits = bool(from_logits)
        self.ignore_class = None

    def _prepare(self, y_true, y_pred, sample_weight):
        y_pred = _as_float32(y_pred, "y_pred")
        if y_pred.ndim == 0:
            raise ValueError(f"Argument `y_pred` must be at least 1-D. Received: y_pred.shape={y_pred.shape}")
        labels = np.asarray(y_true)
        if labels.ndim == y_pred.ndim and labels.ndim > 0 and labels.shape[-1] == 1:
            labels = labels.reshape(labels.shape[:-1])
        if labels.shape != y_pred.shape[:-1]:
            raise ValueError("Argument `y_true` must have the shape of `y_pred` without its last axis. "
                             f"Received: y_true.shape={np.shape(y_true)}, y_pred.shape={y_pred.shape}")
        classes = y_pred.shape[-1]
        t = np.ascontiguousarray(labels.reshape(-1), dtype=np.float32)
        return t, y_pred.reshape(-1, classes), self._weights(sample_weight, y_pred.shape[:-1])

    def get_config(self):
        config = super().get_config()
        config.update(from_logits=self.from_logits, ignore_class=self.ignore_class)
        return config


class MeanSquaredError(Loss):
    """Mean of ``(y_true - y_pred)**2`` over the last axis."""

    _kind = "mse"

    def __init__(self, reduction="sum_over_batch_size", name="mean_squared_error", dtype=None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)


class MeanAbsoluteError(Loss):
    """Mean of ``|y_true - y_pred|`` over the last axis."""

    _kind = "mae"

    def __init__(self, reduction="sum_over_batch_size", name="mean_absolute_error", dtype=None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)


class Huber(Loss):
    """``0.5 e**2`` where ``|e| <= delta``, else ``delta*|e| - 0.5*delta**2``, averaged over the last axis.

    Like Keras, ``get_config`` holds only name and reduction (Keras 3 drops ``delta`` from it)."""

    _kind = "huber"

    def __init__(self, delta=1.0, reduction="sum_over_batch_size", name="huber_loss", dtype=None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        delta = float(delta)
        if not delta >= 0.0:
            raise ValueError(f"Argument `delta` must be non-negative. Received: delta={delta}")
        self.delta = delta


# ---------------------------------------------------------------------- functions (per-batch value, Keras names)
def _function(cls, fn_name, doc):
    def loss_fn(y_true, y_pred, **kwargs):
        return cls(**kwargs)(y_true, y_pred)

    loss_fn.__name__ = loss_fn.__qualname__ = fn_name
    loss_fn.__doc__ = doc + " Returns the batch average as a float32 scalar."
    loss_fn._loss_class = cls
    return loss_fn


binary_crossentropy = _function(BinaryCrossentropy, "binary_crossentropy", "Binary cross-entropy.")
categorical_crossentropy = _function(CategoricalCrossentropy, "categorical_crossentropy",
                                     "Categorical cross-entropy.")
sparse_categorical_crossentropy = _function(SparseCategoricalCrossentropy, "sparse_categorical_crossentropy",
                                            "Sparse categorical cross-entropy.")
mean_squared_error = _function(MeanSquaredError, "mean_squared_error", "Mean squared error.")
mean_absolute_error = _function(MeanAbsoluteError, "mean_absolute_error", "Mean absolute error.")
huber = _function(Huber, "huber", "Huber loss.")
mse = MSE = mean_squared_error
mae = MAE = mean_absolute_error
bce = BCE = binary_crossentropy

_CLASSES = {cls.__name__: cls for cls in (BinaryCrossentropy, CategoricalCrossentropy,
                                          SparseCategoricalCrossentropy, MeanSquaredError, MeanAbsoluteError, Huber)}
_FUNCTIONS = {
    "binary_crossentropy": binary_crossentropy, "bce": bce, "BCE": bce,
    "categorical_crossentropy": categorical_crossentropy,
    "sparse_categorical_crossentropy": sparse_categorical_crossentropy,
    "mean_squared_error": mean_squared_error, "mse": mse, "MSE": mse,
    "mean_absolute_error": mean_absolute_error, "mae": mae, "MAE": mae,
    "huber": huber, "huber_loss": huber,
}


def serialize(loss) -> dict:
    return {"module": "keras.losses", "class_name": type(loss).__name__, "config": loss.get_config(),
            "registered_name": None}


def deserialize(config: dict) -> Loss:
    name = config.get("class_name")
    if name not in _CLASSES:
        raise ValueError(f"Unknown loss class. Allowed: {sorted(_CLASSES)}. Received: class_name={name!r}")
    return _CLASSES[name].from_config(dict(config.get("config", {})))


def get(identifier) -> Loss | None:
    """A Loss instance from a name ('mse', 'mean_squared_error', 'binary_crossentropy', 'MeanSquaredError', ...),
    a Loss class or instance, one of this module's loss functions, or a serialized dict. None gives None.

    Unlike Keras (which returns the plain function for a function name), this always returns a Loss instance, so
    the training step can read its ``_core_spec()``; the value it computes is the same."""
    if identifier is None:
        return None
    if isinstance(identifier, Loss):
        return identifier
    if isinstance(identifier, type) and issubclass(identifier, Loss):
        return identifier()
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if callable(identifier) and hasattr(identifier, "_loss_class"):
        return identifier._loss_class()
    if isinstance(identifier, str):
        if identifier in _CLASSES:
            return _CLASSES[identifier]()
        if identifier in _FUNCTIONS:
            return _FUNCTIONS[identifier]._loss_class()
    allowed = sorted(set(_FUNCTIONS) | set(_CLASSES))
    raise ValueError(f"Could not interpret loss identifier. Allowed names: {allowed}. Received: {identifier!r}")

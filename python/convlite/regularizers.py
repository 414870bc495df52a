"""Weight and activity regularizers with Keras 3's names, formulas, configs and argument checks.

``L1(l1)``: ``l1 * sum(|x|)``; ``L2(l2)``: ``l2 * sum(x**2)``; ``L1L2(l1, l2)``: both. Layers take them as
``kernel_regularizer=`` / ``bias_regularizer=`` / ``activity_regularizer=`` (and the depthwise / pointwise / beta /
gamma variants); the compiled model adds their penalty to the training loss and its gradient to the parameter's
gradient inside the C++ step, as Keras's ``compute_loss`` adds ``model.losses``. Activity penalties are divided by
the batch size (Keras 3). ``OrthogonalRegularizer`` exists for configs but layers refuse it (not trained here).
"""
from __future__ import annotations

import math

import numpy as np


def validate_float_arg(value, name):
    """Keras's check (and message, missing space included): a non-negative finite int or float."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (float, int, np.floating, np.integer)) \
            or math.isinf(value) or math.isnan(value) or value < 0:
        raise ValueError(f"Invalid value for argument {name}: expected a non-negative float."
                         f"Received: {name}={value}")
    return float(value)


class Regularizer:
    """Base class: ``regularizer(x)`` is the penalty of array ``x`` (float64 numpy here)."""

    def __call__(self, x):
        return 0.0

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def get_config(self):
        raise NotImplementedError(f"{self} does not implement get_config()")

    def _factors(self):
        """(l1, l2) for the compiled model."""
        raise ValueError(f"convlite trains L1, L2 and L1L2 regularizers only. Received: {self!r}")

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


class L1L2(Regularizer):
    """``l1 * sum(|x|) + l2 * sum(x**2)``. The string ``'l1l2'`` gives ``L1L2()``, i.e. both 0, as in Keras."""

    def __init__(self, l1=0.0, l2=0.0):
        self.l1 = validate_float_arg(0.0 if l1 is None else l1, name="l1")
        self.l2 = validate_float_arg(0.0 if l2 is None else l2, name="l2")

    def __call__(self, x):
        x = np.asarray(x, dtype=np.float64)
        return self.l1 * np.abs(x).sum() + self.l2 * np.square(x).sum()

    def get_config(self):
        return {"l1": self.l1, "l2": self.l2}

    def _factors(self):
        return self.l1, self.l2


class L1(Regularizer):
    """``l1 * sum(|x|)``; default (and the string ``'l1'``) 0.01."""

    def __init__(self, l1=0.01):
        self.l1 = validate_float_arg(0.01 if l1 is None else l1, name="l1")

    def __call__(self, x):
        return self.l1 * np.abs(np.asarray(x, dtype=np.float64)).sum()

    def get_config(self):
        return {"l1": float(np.float32(self.l1))}  # Keras stores it as a float32 tensor

    def _factors(self):
        return self.l1, 0.0


class L2(Regularizer):
    """``l2 * sum(x**2)``; default (and the string ``'l2'``) 0.01."""

    def __init__(self, l2=0.01):
        self.l2 = validate_float_arg(0.01 if l2 is None else l2, name="l2")

    def __call__(self, x):
        return self.l2 * np.square(np.asarray(x, dtype=np.float64)).sum()

    def get_config(self):
        return {"l2": self.l2}

    def _factors(self):
        return 0.0, self.l2


class OrthogonalRegularizer(Regularizer):
    """Keras's orthogonality penalty on a rank-2 kernel. Configs round-trip; layers refuse it (not trained)."""

    def __init__(self, factor=0.01, mode="rows"):
        self.factor = validate_float_arg(factor, name="factor")
        if mode not in {"rows", "columns"}:
            raise ValueError(f'Invalid value for argument `mode`. Expected one of {{"rows", "columns"}}. '
                             f"Received: mode={mode}")
        self.mode = mode

    def __call__(self, inputs):
        x = np.asarray(inputs, dtype=np.float64)
        if x.ndim != 2:
            raise ValueError(f"Inputs to OrthogonalRegularizer must have rank 2. Received: inputs.shape={x.shape}")
        if self.mode == "columns":
            x = x.T
        x = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
        product = x @ x.T
        size = x.shape[0]
        off_diagonal = product * (1.0 - np.eye(size))
        return self.factor * 0.5 * np.abs(off_diagonal).sum() / (size * (size - 1.0) / 2.0)

    def get_config(self):
        return {"factor": float(np.float32(self.factor)), "mode": self.mode}


# Keras's ALL_OBJECTS_DICT: class names and their snake_case forms ('l1', 'l2', 'l1l2'). Keras's docs name L1L2
# 'l1_l2' but its lookup does not know that spelling; convlite takes it too, with Keras's L1L2() (both factors 0).
_BY_NAME = {
    "Regularizer": Regularizer, "L1": L1, "L2": L2, "L1L2": L1L2, "OrthogonalRegularizer": OrthogonalRegularizer,
    "regularizer": Regularizer, "l1": L1, "l2": L2, "l1l2": L1L2, "l1_l2": L1L2,
    "orthogonal_regularizer": OrthogonalRegularizer,
}
l1, l2, l1_l2, orthogonal_regularizer = L1, L2, L1L2, OrthogonalRegularizer


def serialize(regularizer):
    """Keras's serialized form: ``{"module": "keras.regularizers", "class_name": ..., "config": ...,
    "registered_name": None}``."""
    if regularizer is None:
        return None
    if not isinstance(regularizer, Regularizer):
        raise TypeError(f"Cannot serialize a regularizer that is not a convlite regularizer. "
                        f"Received: regularizer={regularizer!r}")
    return {"module": "keras.regularizers", "class_name": type(regularizer).__name__,
            "config": regularizer.get_config(), "registered_name": None}


def deserialize(config, custom_objects=None):
    """A regularizer from ``serialize``'s dict (or Keras's), or from a bare class name."""
    if isinstance(config, str):
        return get(config)
    if not isinstance(config, dict) or "class_name" not in config:
        raise ValueError(f"Could not interpret regularizer identifier: {config}")
    name = config["class_name"]
    cls = (custom_objects or {}).get(name) or _BY_NAME.get(name)
    if cls is None or cls is Regularizer:
        raise ValueError(f"Unknown regularizer: '{name}'. convlite knows L1, L2, L1L2 and OrthogonalRegularizer. "
                         f"Received: class_name={name!r}")
    return cls.from_config(dict(config.get("config") or {}))


def get(identifier):
    """None, a convlite regularizer, a config dict, or a name ('l1', 'l2', 'l1_l2', 'L1', ...)."""
    if identifier is None:
        return None
    if isinstance(identifier, Regularizer):
        return identifier
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if isinstance(identifier, str):
        cls = _BY_NAME.get(identifier)
        if cls is None or cls is Regularizer:
            raise ValueError(f"Could not interpret regularizer identifier: {identifier}")
        return cls()
    if isinstance(identifier, type) and issubclass(identifier, Regularizer) and identifier is not Regularizer:
        return identifier()
    converted = _from_foreign(identifier)
    if converted is not None:
        return converted
    raise TypeError(f"convlite takes its own regularizers (convlite.regularizers.L1 / L2 / L1L2), their names or "
                    f"config dicts; a custom callable cannot run inside the compiled step. "
                    f"Received: regularizer={identifier!r}")


def _from_foreign(obj):
    """A Keras L1 / L2 / L1L2 object, converted through its config (same class names, same meaning)."""
    cls = _BY_NAME.get(type(obj).__name__)
    module = type(obj).__module__ or ""
    if cls is None or cls is Regularizer or not module.startswith("keras"):
        return None
    return cls.from_config(obj.get_config())


def trained_factors(regularizer, argument):
    """(l1, l2) of a regularizer a layer trains with; ValueError naming the argument for one it cannot train."""
    if isinstance(regularizer, OrthogonalRegularizer):
        raise ValueError(f"convlite does not train OrthogonalRegularizer (only L1, L2 and L1L2). "
                         f"Received: {argument}={regularizer!r}")
    return regularizer._factors()

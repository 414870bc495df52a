"""Optimizers with Keras 3's names, defaults, configs, update formulas and saving order.

>>> import numpy as np, convlite
>>> w = np.ones(3, np.float32)
>>> opt = convlite.optimizers.Adam(learning_rate=0.1)
>>> opt.apply_gradients([(np.full(3, 0.5, np.float32), w)])
1
>>> w  # doctest: +ELLIPSIS
array([0.9..., 0.9..., 0.9...], dtype=float32)

Model contract: ``build(variables)``, ``slot_arrays()``, ``variables`` (Keras's saving order),
``current_learning_rate()``, ``_core_spec()``, ``apply_gradients(grads_and_vars)``, ``iterations``.
"""
from __future__ import annotations

from . import schedules
from .algorithms import SGD, Adam, AdamW, RMSprop
from .base import Optimizer
from .more import Adadelta, Adagrad, Adamax, Lion, Nadam

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "Adadelta", "Adamax", "Nadam", "Lion",
           "schedules", "get", "serialize", "deserialize"]

_CLASSES = {"sgd": SGD, "adam": Adam, "adamw": AdamW, "rmsprop": RMSprop, "adagrad": Adagrad, "adadelta": Adadelta,
            "adamax": Adamax, "nadam": Nadam, "lion": Lion}


def serialize(optimizer) -> dict:
    return {"module": "keras.optimizers", "class_name": type(optimizer).__name__,
            "config": optimizer.get_config(), "registered_name": None}


def deserialize(config: dict) -> Optimizer:
    name = str(config.get("class_name", ""))
    cls = _CLASSES.get(name.lower())
    if cls is None:
        raise ValueError(f"Unknown optimizer. Allowed: {sorted(_CLASSES)}. Received: class_name={name!r}")
    return cls.from_config(dict(config.get("config", {})))


def get(identifier) -> Optimizer:
    """An optimizer from a name ('sgd', 'adam', 'adamw', 'rmsprop', 'adagrad', 'adadelta', 'adamax', 'nadam',
    'lion'; case-insensitive, default arguments), an instance (returned as is), a class, or a serialized dict."""
    if isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, type) and issubclass(identifier, Optimizer):
        return identifier()
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if isinstance(identifier, str) and identifier.lower() in _CLASSES:
        return _CLASSES[identifier.lower()]()
    raise ValueError(f"Could not interpret optimizer identifier. Allowed names: {sorted(_CLASSES)}. "
                     f"Received: {identifier!r}")

"""Weight constraints with Keras 3's names, formulas and configs, applied by the compiled model after each update.

``MaxNorm(max_value=2, axis=0)``, ``NonNeg()``, ``UnitNorm(axis=0)``, ``MinMaxNorm(min_value=0, max_value=1, rate=1,
axis=0)``. Norms are taken over ``axis`` of the weight in its Keras layout (which is convlite's), with Keras's
``eps = 1e-7``: ``w * clip(norm, 0, max) / (eps + norm)``, ``w / (eps + norm)``, ... Like Keras's optimizer, the
step projects each trainable weight that has a constraint right after its update.
"""
from __future__ import annotations

import numpy as np

EPSILON = 1e-7


class Constraint:
    """Base class: ``constraint(w)`` returns the projected array (float32 numpy here, Keras's arithmetic)."""

    def __call__(self, w):
        return w

    def get_config(self):
        return {}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def _core_args(self, shape):
        """(kind, reduce flags, min_value, max_value, rate, 1 - rate) for the compiled model."""
        raise ValueError(f"convlite applies MaxNorm, NonNeg, UnitNorm and MinMaxNorm only. Received: {self!r}")

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


def _reduce_flags(axis, shape, constraint):
    """Per axis of `shape`, whether the norm sums over it (Keras's `axis`: an int, a list of ints, None = all)."""
    rank = len(shape)
    if axis is None:
        return [True] * rank
    axes = [axis] if isinstance(axis, (int, np.integer)) and not isinstance(axis, bool) else axis
    try:
        axes = [int(a) for a in axes]
    except (TypeError, ValueError):
        raise ValueError(f"Argument `axis` of {type(constraint).__name__} must be an int or a list of ints. "
                         f"Received: axis={axis!r}") from None
    flags = [False] * rank
    for a in axes:
        if not -rank <= a < rank:
            raise ValueError(f"Argument `axis` of {type(constraint).__name__} is out of range for a weight of rank "
                             f"{rank} (shape {tuple(shape)}). Received: axis={axis!r}")
        flags[a % rank] = True
    return flags


def _norms(w, axis, constraint):
    w = np.asarray(w, dtype=np.float32)
    flags = _reduce_flags(axis, w.shape, constraint)
    axes = tuple(i for i, f in enumerate(flags) if f)
    return w, np.sqrt(np.sum(np.square(w, dtype=np.float64), axis=axes, keepdims=True)).astype(np.float32)


class MaxNorm(Constraint):
    """Rescales each weight vector (the slice over `axis`) to norm at most `max_value`."""

    def __init__(self, max_value=2, axis=0):
        self.max_value = max_value
        self.axis = axis

    def __call__(self, w):
        w, norms = _norms(w, self.axis, self)
        desired = np.clip(norms, np.float32(0), np.float32(self.max_value))
        return w * (desired / (np.float32(EPSILON) + norms))

    def get_config(self):
        return {"max_value": self.max_value, "axis": self.axis}

    def _core_args(self, shape):
        return "max_norm", _reduce_flags(self.axis, shape, self), 0.0, float(self.max_value), 1.0, 0.0


class NonNeg(Constraint):
    """``max(w, 0)``."""

    def __call__(self, w):
        return np.maximum(np.asarray(w, dtype=np.float32), np.float32(0))

    def _core_args(self, shape):
        return "non_neg", [False] * len(shape), 0.0, 0.0, 1.0, 0.0


class UnitNorm(Constraint):
    """``w / (eps + norm)`` over `axis`."""

    def __init__(self, axis=0):
        self.axis = axis

    def __call__(self, w):
        w, norms = _norms(w, self.axis, self)
        return w / (np.float32(EPSILON) + norms)

    def get_config(self):
        return {"axis": self.axis}

    def _core_args(self, shape):
        return "unit_norm", _reduce_flags(self.axis, shape, self), 0.0, 0.0, 1.0, 0.0


class MinMaxNorm(Constraint):
    """Norm moved towards ``[min_value, max_value]``: ``rate * clip(norm, min, max) + (1 - rate) * norm``."""

    def __init__(self, min_value=0.0, max_value=1.0, rate=1.0, axis=0):
        self.min_value = min_value
        self.max_value = max_value
        self.rate = rate
        self.axis = axis

    def __call__(self, w):
        w, norms = _norms(w, self.axis, self)
        desired = (np.float32(self.rate) * np.clip(norms, np.float32(self.min_value), np.float32(self.max_value))
                   + np.float32(1 - self.rate) * norms)
        return w * (desired / (np.float32(EPSILON) + norms))

    def get_config(self):
        return {"min_value": self.min_value, "max_value": self.max_value, "rate": self.rate, "axis": self.axis}

    def _core_args(self, shape):
        return ("min_max_norm", _reduce_flags(self.axis, shape, self), float(self.min_value), float(self.max_value),
                float(self.rate), float(1 - self.rate))


_BY_NAME = {
    "Constraint": Constraint, "MaxNorm": MaxNorm, "NonNeg": NonNeg, "UnitNorm": UnitNorm, "MinMaxNorm": MinMaxNorm,
    "constraint": Constraint, "max_norm": MaxNorm, "non_neg": NonNeg, "unit_norm": UnitNorm,
    "min_max_norm": MinMaxNorm,
}
max_norm, non_neg, unit_norm, min_max_norm = MaxNorm, NonNeg, UnitNorm, MinMaxNorm


def serialize(constraint):
    if constraint is None:
        return None
    if not isinstance(constraint, Constraint):
        raise TypeError(f"Cannot serialize a constraint that is not a convlite constraint. "
                        f"Received: constraint={constraint!r}")
    return {"module": "keras.constraints", "class_name": type(constraint).__name__,
            "config": constraint.get_config(), "registered_name": None}


def deserialize(config, custom_objects=None):
    if isinstance(config, str):
        return get(config)
    if not isinstance(config, dict) or "class_name" not in config:
        raise ValueError(f"Could not interpret constraint identifier: {config}")
    name = config["class_name"]
    cls = (custom_objects or {}).get(name) or _BY_NAME.get(name)
    if cls is None or cls is Constraint:
        raise ValueError(f"Unknown constraint: '{name}'. convlite knows MaxNorm, NonNeg, UnitNorm and MinMaxNorm. "
                         f"Received: class_name={name!r}")
    return cls.from_config(dict(config.get("config") or {}))


def get(identifier):
    """None, a convlite constraint, a config dict, or a name ('max_norm', 'non_neg', 'UnitNorm', ...)."""
    if identifier is None:
        return None
    if isinstance(identifier, Constraint):
        return identifier
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if isinstance(identifier, str):
        cls = _BY_NAME.get(identifier)
        if cls is None or cls is Constraint:
            raise ValueError(f"Could not interpret constraint identifier: {identifier}")
        return cls()
    if isinstance(identifier, type) and issubclass(identifier, Constraint) and identifier is not Constraint:
        return identifier()
    cls = _BY_NAME.get(type(identifier).__name__)
    if cls is not None and cls is not Constraint and (type(identifier).__module__ or "").startswith("keras"):
        return cls.from_config(identifier.get_config())  # Keras's own object: same class, same config
    raise TypeError(f"convlite takes its own constraints (convlite.constraints.MaxNorm / NonNeg / UnitNorm / "
                    f"MinMaxNorm), their names or config dicts; a custom callable cannot run inside the compiled "
                    f"step. Received: constraint={identifier!r}")

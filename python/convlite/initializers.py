"""Weight initializers with Keras 3's names, arguments, fan computation and configs.

Every initializer is called as ``init(shape, dtype="float32")`` and returns a C-contiguous numpy array.
Seeding follows Keras 3: an initializer built with an integer seed returns the same values on every call; an
unseeded one fixes its seed on first use (Keras fixes it at construction) by drawing from
``convlite.utils.global_rng()``, so it also repeats itself, and ``set_random_seed`` before building a model makes
the whole initialisation reproducible. The variance-scaling normals use Keras's truncated normal (re-draw beyond
two standard deviations, stddev divided by 0.8796... so the truncated distribution keeps the target variance).
"""
from __future__ import annotations

import inspect
import math
import re

import numpy as np

from . import utils

__all__ = [
    "Constant", "GlorotNormal", "GlorotUniform", "HeNormal", "HeUniform", "Identity", "Initializer",
    "LecunNormal", "LecunUniform", "Ones", "Orthogonal", "RandomNormal", "RandomUniform", "TruncatedNormal",
    "VarianceScaling", "Zeros", "compute_fans", "deserialize", "get", "serialize",
]

# Standard deviation of a unit normal truncated to [-2, 2] (Keras's constant).
_TRUNCATED_STDDEV = 0.87962566103423978


def compute_fans(shape, input_axes=None, output_axes=None):
    """(fan_in, fan_out) as Keras computes them: Dense ``(in, units)``; conv kernels ``(*window, c_in, c_out)``
    multiply the channel counts by the receptive field size."""
    shape = tuple(int(d) for d in shape)
    if input_axes is not None and output_axes is not None:
        fan_in = int(np.prod([shape[a] for a in input_axes], dtype=np.int64))
        fan_out = int(np.prod([shape[a] for a in output_axes], dtype=np.int64))
        return fan_in, fan_out
    if len(shape) < 1:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    if len(shape) == 2:
        return shape[0], shape[1]
    receptive_field = int(np.prod(shape[:-2], dtype=np.int64))
    return shape[-2] * receptive_field, shape[-1] * receptive_field


def _check_shape(shape):
    if isinstance(shape, (int, np.integer)):
        shape = (shape,)
    try:
        shape = tuple(int(d) for d in shape)
    except (TypeError, ValueError):
        raise ValueError(f"`shape` must be a tuple of non-negative integers. Received: shape={shape}") from None
    if any(d < 0 for d in shape):
        raise ValueError(f"`shape` must be a tuple of non-negative integers. Received: shape={shape}")
    return shape


def _finish(values, dtype):
    return np.ascontiguousarray(values, dtype=np.dtype(dtype or "float32"))


class Initializer:
    """Base class: subclasses implement ``__call__(shape, dtype)`` and ``get_config``."""

    def __call__(self, shape, dtype="float32"):
        raise NotImplementedError(f"Initializer subclasses must implement `__call__()`. Received: {self}")

    def get_config(self):
        return {}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def clone(self):
        return self.__class__.from_config(self.get_config())

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{self.__class__.__name__}({args})"


class Zeros(Initializer):
    def __call__(self, shape, dtype="float32"):
        return np.zeros(_check_shape(shape), dtype=np.dtype(dtype or "float32"))


class Ones(Initializer):
    def __call__(self, shape, dtype="float32"):
        return np.ones(_check_shape(shape), dtype=np.dtype(dtype or "float32"))


class Constant(Initializer):
    def __init__(self, value=0.0):
        self.value = value

    def __call__(self, shape, dtype="float32"):
        return _finish(np.full(_check_shape(shape), self.value), dtype)

    def get_config(self):
        return {"value": self.value}


class Identity(Initializer):
    """``gain * eye`` for 2D shapes."""

    def __init__(self, gain=1.0):
        self.gain = gain

    def __call__(self, shape, dtype="float32"):
        shape = _check_shape(shape)
        if len(shape) != 2:
            raise ValueError(
                "Identity matrix initializer can only be used for 2D matrices. "
                f"Received: shape={shape} of rank {len(shape)}."
            )
        return _finish(self.gain * np.eye(*shape), dtype)

    def get_config(self):
        return {"gain": self.gain}


class RandomInitializer(Initializer):
    """Holds the seed: an int gives the same values on every call; None fixes one from the global generator."""

    def __init__(self, seed=None):
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer))):
            raise ValueError(f"`seed` argument should be an integer. Received: seed={seed}")
        self._init_seed = None if seed is None else int(seed)
        self._seed = self._init_seed

    @property
    def seed(self):
        if self._seed is None:
            self._seed = utils.next_seed()
        return self._seed

    def _rng(self):
        return np.random.default_rng(self.seed)

    def get_config(self):
        return {"seed": self._init_seed}


def _truncated_normal(rng, shape, mean, stddev):
    """Normal samples; those beyond two standard deviations are re-drawn (as tf.random.truncated_normal)."""
    values = rng.standard_normal(shape)
    outside = np.abs(values) > 2.0
    while outside.any():
        values[outside] = rng.standard_normal(int(outside.sum()))
        outside = np.abs(values) > 2.0
    return mean + stddev * values


class RandomNormal(RandomInitializer):
    def __init__(self, mean=0.0, stddev=0.05, seed=None):
        self.mean = mean
        self.stddev = stddev
        super().__init__(seed=seed)

    def __call__(self, shape, dtype="float32"):
        return _finish(self._rng().normal(self.mean, self.stddev, _check_shape(shape)), dtype)

    def get_config(self):
        return {**super().get_config(), "mean": self.mean, "stddev": self.stddev}


class TruncatedNormal(RandomInitializer):
    def __init__(self, mean=0.0, stddev=0.05, seed=None):
        self.mean = mean
        self.stddev = stddev
        super().__init__(seed=seed)

    def __call__(self, shape, dtype="float32"):
        return _finish(_truncated_normal(self._rng(), _check_shape(shape), self.mean, self.stddev), dtype)

    def get_config(self):
        return {**super().get_config(), "mean": self.mean, "stddev": self.stddev}


class RandomUniform(RandomInitializer):
    def __init__(self, minval=-0.05, maxval=0.05, seed=None):
        self.minval = minval
        self.maxval = maxval
        super().__init__(seed=seed)

    def __call__(self, shape, dtype="float32"):
        return _finish(self._rng().uniform(self.minval, self.maxval, _check_shape(shape)), dtype)

    def get_config(self):
        return {**super().get_config(), "minval": self.minval, "maxval": self.maxval}


class VarianceScaling(RandomInitializer):
    """stddev (or uniform limit) scaled by fan_in, fan_out or their average, as ``keras.initializers.VarianceScaling``."""

    def __init__(self, scale=1.0, mode="fan_in", distribution="truncated_normal", seed=None,
                 input_axes=None, output_axes=None):
        if scale <= 0.0:
            raise ValueError(f"Argument `scale` must be positive float. Received: scale={scale}")
        allowed_modes = ("fan_in", "fan_out", "fan_avg")
        if mode not in allowed_modes:
            raise ValueError(f"Invalid `mode` argument: {mode}. Please use one of {allowed_modes}")
        distribution = str(distribution).lower()
        if distribution == "normal":
            distribution = "truncated_normal"
        allowed = ("uniform", "truncated_normal", "untruncated_normal")
        if distribution not in allowed:
            raise ValueError(f"Invalid `distribution` argument: {distribution}. Please use one of {allowed}")
        self.scale = scale
        self.mode = mode
        self.distribution = distribution
        self.input_axes = input_axes
        self.output_axes = output_axes
        super().__init__(seed=seed)

    def __call__(self, shape, dtype="float32"):
        shape = _check_shape(shape)
        fan_in, fan_out = compute_fans(shape, self.input_axes, self.output_axes)
        fan = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2.0}[self.mode]
        scale = self.scale / max(1.0, fan)
        rng = self._rng()
        if self.distribution == "truncated_normal":
            values = _truncated_normal(rng, shape, 0.0, math.sqrt(scale) / _TRUNCATED_STDDEV)
        elif self.distribution == "untruncated_normal":
            values = rng.normal(0.0, math.sqrt(scale), shape)
        else:
            limit = math.sqrt(3.0 * scale)
            values = rng.uniform(-limit, limit, shape)
        return _finish(values, dtype)

    def get_config(self):
        return {**super().get_config(), "scale": self.scale, "mode": self.mode,
                "distribution": self.distribution, "input_axes": self.input_axes, "output_axes": self.output_axes}


class _FixedVarianceScaling(VarianceScaling):
    """The named variants: only seed and axes are arguments (and in their config)."""

    _scale, _mode, _distribution = 1.0, "fan_in", "truncated_normal"

    def __init__(self, seed=None, input_axes=None, output_axes=None):
        super().__init__(scale=self._scale, mode=self._mode, distribution=self._distribution, seed=seed,
                         input_axes=input_axes, output_axes=output_axes)

    def get_config(self):
        return {"seed": self._init_seed, "input_axes": self.input_axes, "output_axes": self.output_axes}


class GlorotUniform(_FixedVarianceScaling):
    _scale, _mode, _distribution = 1.0, "fan_avg", "uniform"


class GlorotNormal(_FixedVarianceScaling):
    _scale, _mode, _distribution = 1.0, "fan_avg", "truncated_normal"


class LecunNormal(_FixedVarianceScaling):
    _scale, _mode, _distribution = 1.0, "fan_in", "truncated_normal"


class LecunUniform(_FixedVarianceScaling):
    _scale, _mode, _distribution = 1.0, "fan_in", "uniform"


class HeNormal(_FixedVarianceScaling):
    _scale, _mode, _distribution = 2.0, "fan_in", "truncated_normal"


class HeUniform(_FixedVarianceScaling):
    _scale, _mode, _distribution = 2.0, "fan_in", "uniform"


class Orthogonal(RandomInitializer):
    """Orthogonal matrix from the QR decomposition of a normal matrix (flattened to ``(prod(shape[:-1]), shape[-1])``)."""

    def __init__(self, gain=1.0, seed=None):
        self.gain = gain
        super().__init__(seed=seed)

    def __call__(self, shape, dtype="float32"):
        shape = _check_shape(shape)
        if len(shape) < 2:
            raise ValueError(
                "The tensor to initialize must be at least two-dimensional. "
                f"Received: shape={shape} of rank {len(shape)}."
            )
        num_rows = int(np.prod(shape[:-1], dtype=np.int64))
        num_cols = shape[-1]
        a = self._rng().standard_normal((max(num_rows, num_cols), min(num_rows, num_cols)))
        q, r = np.linalg.qr(a)
        q = q * np.sign(np.diag(r))  # makes the decomposition unique, so Q is uniformly distributed
        if num_rows < num_cols:
            q = q.T
        return _finish(self.gain * q.reshape(shape), dtype)

    def get_config(self):
        return {**super().get_config(), "gain": self.gain}


def _snake_case(name):
    """Keras's to_snake_case: 'GlorotUniform' -> 'glorot_uniform', 'AUC' -> 'auc'."""
    name = re.sub(r"\W+", "", name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()


_CLASSES = (Constant, GlorotNormal, GlorotUniform, HeNormal, HeUniform, Identity, LecunNormal, LecunUniform,
            Ones, Orthogonal, RandomNormal, RandomUniform, TruncatedNormal, VarianceScaling, Zeros)
ALL_OBJECTS_DICT = {cls.__name__: cls for cls in _CLASSES}
ALL_OBJECTS_DICT.update({_snake_case(cls.__name__): cls for cls in _CLASSES})
ALL_OBJECTS_DICT.update({"normal": RandomNormal, "one": Ones, "uniform": RandomUniform, "zero": Zeros,
                         "IdentityInitializer": Identity, "OrthogonalInitializer": Orthogonal})


def serialize(initializer):
    """Keras's serialized form: ``{"module", "class_name", "config", "registered_name"}``."""
    return {"module": "keras.initializers", "class_name": initializer.__class__.__name__,
            "config": initializer.get_config(), "registered_name": None}


def _lookup(name):
    cls = ALL_OBJECTS_DICT.get(name)
    if cls is None:
        allowed = sorted(n for n in ALL_OBJECTS_DICT if n == n.lower())
        raise ValueError(
            f"Could not interpret initializer identifier: {name!r}. Expected one of {allowed} "
            f"(or the class names, e.g. 'GlorotUniform'). Received: identifier={name!r}"
        )
    return cls


def deserialize(config):
    """Build an initializer from ``{"class_name": ..., "config": {...}}``."""
    if not isinstance(config, dict) or "class_name" not in config:
        raise ValueError(f"An initializer config must be a dict with a 'class_name' key. Received: config={config}")
    return _lookup(config["class_name"]).from_config(dict(config.get("config") or {}))


def get(identifier):
    """Resolve a name, config dict, class, callable or numpy array to an initializer (None stays None)."""
    if identifier is None:
        return None
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if isinstance(identifier, str):
        return _lookup(identifier)()
    if isinstance(identifier, (np.ndarray, np.generic)):
        array = np.asarray(identifier)

        def initialize_fn(shape, dtype="float32"):
            if tuple(shape) != array.shape:
                raise ValueError(
                    f"Expected `shape` to be {array.shape} for direct tensor as initializer. Received shape={shape}"
                )
            return _finish(array, dtype)

        return initialize_fn
    if inspect.isclass(identifier):
        return identifier()
    if callable(identifier):
        return identifier
    raise ValueError(f"Could not interpret initializer identifier: {identifier}")

"""Rescaling, GaussianNoise and GaussianDropout (Keras 3's formulas; cpp/src/model/layers_noise.cpp runs them).

The noise layers draw from the counter-based stream that Dropout uses, keyed by (model seed ^ layer seed, step): a run
is reproducible after ``convlite.utils.set_random_seed`` and independent of the thread count, and inference is the
identity. Keras's own random numbers cannot be reproduced; the distributions are the same.
"""
from __future__ import annotations

import math
import numbers

import numpy as np

from .base import Layer, prod
from .regularization import _layer_seed


def _unit_interval(value, name, upper_open=False):
    """Keras's check for stddev / rate: a number in [0, 1] ([0, 1) for GaussianDropout, whose 1 divides by 0)."""
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool) and 0 <= value <= 1
    if not ok or (upper_open and value == 1):
        interval = "between 0 and 1 (1 excluded)" if upper_open else "between 0 and 1"
        raise ValueError(f"Invalid value received for argument `{name}`. Expected a float value {interval}. "
                         f"Received: {name}={value!r}")
    return float(value)


class GaussianNoise(Layer):
    """``keras.layers.GaussianNoise(stddev, seed=None)``: adds N(0, stddev²) noise in training, nothing otherwise."""

    def __init__(self, stddev, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.stddev = _unit_interval(stddev, "stddev")
        self.seed = seed
        self._salt = _layer_seed(seed)

    def _emit(self, core, input_shape):
        core.add_gaussian(False, self.stddev, prod(input_shape[1:]), self._salt & (2**64 - 1))

    def _flops(self, input_shape):
        return prod(input_shape[1:])

    def get_config(self):
        return {**super().get_config(), "stddev": self.stddev, "seed": self.seed}


class GaussianDropout(Layer):
    """``keras.layers.GaussianDropout(rate, seed=None)``: multiplies by N(1, rate / (1 - rate)) noise in training."""

    def __init__(self, rate, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.rate = _unit_interval(rate, "rate", upper_open=True)
        self.seed = seed
        self._salt = _layer_seed(seed)

    def _emit(self, core, input_shape):
        stddev = math.sqrt(self.rate / (1.0 - self.rate))  # in double, as Keras's math.sqrt
        core.add_gaussian(True, stddev, prod(input_shape[1:]), self._salt & (2**64 - 1))

    def _flops(self, input_shape):
        return prod(input_shape[1:])

    def get_config(self):
        return {**super().get_config(), "rate": self.rate, "seed": self.seed}


def _per_channel(value, name):
    """A float, or one float per channel (a list or 1-D array), as float32 values; Keras's own broadcasting beyond
    the channel axis is refused by name."""
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        return np.array([value], np.float32)
    try:
        values = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        values = None
    if values is None or values.ndim != 1 or values.size == 0:
        raise ValueError(f"Argument `{name}` of Rescaling must be a float or one float per channel (a list or 1-D "
                         f"array). Received: {name}={value!r}")
    return values.astype(np.float32)


class Rescaling(Layer):
    """``keras.layers.Rescaling(scale, offset=0.0)``: ``inputs * scale + offset`` (a multiply, then an add), in
    training and inference; scale and offset are floats or one value per channel (the last axis)."""

    def __init__(self, scale, offset=0.0, **kwargs):
        super().__init__(**kwargs)
        self._scale = _per_channel(scale, "scale")
        self._offset = _per_channel(offset, "offset")
        self.scale = scale if isinstance(scale, numbers.Real) else [float(v) for v in self._scale]
        self.offset = offset if isinstance(offset, numbers.Real) else [float(v) for v in self._offset]

    def build(self, input_shape):
        channels = input_shape[-1]
        for name, values in (("scale", self._scale), ("offset", self._offset)):
            if values.size not in (1, channels):
                raise ValueError(f"Rescaling's `{name}` has {values.size} values for inputs with {channels} "
                                 f"channels (the last axis). Received: input_shape={tuple(input_shape)}")
        super().build(input_shape)

    def _emit(self, core, input_shape):
        channels = input_shape[-1] if max(self._scale.size, self._offset.size) > 1 else 1
        scale = np.broadcast_to(self._scale, (channels,))
        offset = np.broadcast_to(self._offset, (channels,))
        core.add_rescaling(prod(input_shape[1:]), [float(v) for v in scale], [float(v) for v in offset])

    def _flops(self, input_shape):
        return 2 * prod(input_shape[1:])

    def get_config(self):
        return {**super().get_config(), "scale": self.scale, "offset": self.offset}

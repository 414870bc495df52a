"""Dropout and SpatialDropout1D/2D.

The mask comes from a counter-based stream keyed by (model seed ^ layer seed, step), so a run is reproducible after
``convlite.utils.set_random_seed`` and independent of the thread count. Inference is the identity.
"""
from __future__ import annotations

from .base import Layer, check_rank, prod


def _layer_seed(seed):
    if seed is None:
        from .. import utils

        return int(utils.next_seed())
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ValueError(f"Argument `seed` must be an integer or None. Received: seed={seed!r}")
    return seed


class Dropout(Layer):
    """``keras.layers.Dropout(rate, noise_shape=None, seed=None)``."""

    def __init__(self, rate, noise_shape=None, seed=None, **kwargs):
        super().__init__(**kwargs)
        if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0 <= rate < 1:
            raise ValueError(f"Invalid value received for argument `rate`. Expected a float value between 0 and 1 "
                             f"(1 excluded). Received: rate={rate}")
        if noise_shape is not None:
            raise ValueError(f"convlite's Dropout does not support `noise_shape` (use SpatialDropout1D/2D). "
                             f"Received: noise_shape={noise_shape}")
        self.rate = float(rate)
        self.noise_shape = None
        self.seed = seed
        self._salt = _layer_seed(seed)

    def _emit(self, core, input_shape):
        core.add_dropout(self.rate, prod(input_shape[1:]), 0, 0, self._salt & (2**64 - 1))

    def _flops(self, input_shape):
        return prod(input_shape[1:])

    def get_config(self):
        return {**super().get_config(), "rate": self.rate, "seed": self.seed, "noise_shape": None}


class _SpatialDropout(Dropout):
    rank = 1

    def __init__(self, rate, seed=None, **kwargs):
        kwargs.pop("data_format", None)
        super().__init__(rate, seed=seed, **kwargs)

    def _emit(self, core, input_shape):
        check_rank(self, input_shape, self.rank + 2)
        core.add_dropout(self.rate, prod(input_shape[1:]), prod(input_shape[1:-1]), input_shape[-1],
                         self._salt & (2**64 - 1))

    def get_config(self):
        # Keras's SpatialDropout writes only these keys (no `trainable`, which its constructor also rejects), so
        # keras.layers.deserialize accepts our config.
        config = super().get_config()
        return {key: config[key] for key in ("rate", "seed", "name", "dtype")}


class SpatialDropout1D(_SpatialDropout):
    """Drops whole channels of (batch, steps, channels) inputs."""
    rank = 1


class SpatialDropout2D(_SpatialDropout):
    """Drops whole channels of (batch, h, w, channels) inputs."""
    rank = 2

    def get_config(self):
        return {**super().get_config(), "data_format": "channels_last"}

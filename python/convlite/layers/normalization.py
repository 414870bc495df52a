"""BatchNormalization (channels_last, normalising over every axis but the last)."""
from __future__ import annotations

from .base import Layer, prod, serialize_penalties, trained_regularizer, weight_constraint
from .conv import _init_config


class BatchNormalization(Layer):
    """``keras.layers.BatchNormalization``: eps 1e-3, momentum 0.99, biased batch variance in the moving update."""

    _activity_supported = True

    def __init__(self, axis=-1, momentum=0.99, epsilon=1e-3, center=True, scale=True, beta_initializer="zeros",
                 gamma_initializer="ones", moving_mean_initializer="zeros", moving_variance_initializer="ones",
                 beta_regularizer=None, gamma_regularizer=None, beta_constraint=None, gamma_constraint=None,
                 synchronized=False, **kwargs):
        super().__init__(**kwargs)
        if axis not in (-1,) and not isinstance(axis, int):
            raise ValueError(f"Argument `axis` must be an int. Received: axis={axis!r}")
        self.axis = axis
        self.momentum = float(momentum)
        if not 0.0 <= self.momentum <= 1.0:
            raise ValueError(f"Argument `momentum` must be in [0, 1]. Received: momentum={momentum}")
        self.epsilon = float(epsilon)
        if not self.epsilon > 0:
            raise ValueError(f"Argument `epsilon` must be positive. Received: epsilon={epsilon}")
        self.center, self.scale = bool(center), bool(scale)
        self.beta_initializer, self.gamma_initializer = beta_initializer, gamma_initializer
        self.moving_mean_initializer = moving_mean_initializer
        self.moving_variance_initializer = moving_variance_initializer
        self.beta_regularizer = trained_regularizer(beta_regularizer, "beta_regularizer")
        self.gamma_regularizer = trained_regularizer(gamma_regularizer, "gamma_regularizer")
        self.beta_constraint = weight_constraint(beta_constraint, "beta_constraint")
        self.gamma_constraint = weight_constraint(gamma_constraint, "gamma_constraint")
        self.synchronized = bool(synchronized)

    def build(self, input_shape):
        axis = self.axis if self.axis >= 0 else len(input_shape) + self.axis
        if axis != len(input_shape) - 1:
            raise ValueError(f"convlite's BatchNormalization normalises the last (channels) axis only. "
                             f"Received: axis={self.axis} for input shape {tuple(input_shape)}")
        c = input_shape[-1]
        if c is None:  # e.g. Flatten of a sequence of unknown length
            raise ValueError(f"The last (channels) dimension of the inputs to a BatchNormalization layer should be "
                             f"defined. Found None. Full input shape received: {tuple(input_shape)}")
        self.gamma = self.add_weight((c,), self.gamma_initializer, "gamma", regularizer=self.gamma_regularizer,
                                     constraint=self.gamma_constraint) if self.scale else None
        self.beta = self.add_weight((c,), self.beta_initializer, "beta", regularizer=self.beta_regularizer,
                                    constraint=self.beta_constraint) if self.center else None
        self.moving_mean = self.add_weight((c,), self.moving_mean_initializer, "moving_mean", trainable=False)
        self.moving_variance = self.add_weight((c,), self.moving_variance_initializer, "moving_variance",
                                               trainable=False)
        super().build(input_shape)

    def _emit(self, core, input_shape):
        c = input_shape[-1]
        core.add_batch_norm(prod(input_shape[1:-1]), c, self.momentum, self.epsilon,
                            self.gamma.value if self.gamma is not None else None,
                            self.beta.value if self.beta is not None else None,
                            self.moving_mean.value, self.moving_variance.value, not self.trainable)
        self._emit_activity_regularizer(core, input_shape)

    def _flops(self, input_shape):
        return 2 * prod(input_shape[1:])

    def get_config(self):
        return {**super().get_config(), "axis": self.axis, "momentum": self.momentum, "epsilon": self.epsilon,
                "center": self.center, "scale": self.scale,
                "beta_initializer": _init_config(self.beta_initializer),
                "gamma_initializer": _init_config(self.gamma_initializer),
                "moving_mean_initializer": _init_config(self.moving_mean_initializer),
                "moving_variance_initializer": _init_config(self.moving_variance_initializer),
                **serialize_penalties(self, beta_regularizer=self.beta_regularizer,
                                      gamma_regularizer=self.gamma_regularizer, beta_constraint=self.beta_constraint,
                                      gamma_constraint=self.gamma_constraint),
                "synchronized": self.synchronized}

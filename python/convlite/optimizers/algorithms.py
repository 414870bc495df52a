"""SGD, Adam, AdamW and RMSprop: Keras 3's arguments, defaults, configs and update formulas (the C++ kernels in
cpp/src/kernels/optim_*.cpp reproduce Keras's operation order and epsilon placement)."""
from __future__ import annotations

import numbers

from .. import _core
from .base import Optimizer


def _real(value, name, low=None, high=None, rule=""):
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"Argument `{name}` must be a float. Received: {name}={value!r}")
    if (low is not None and value < low) or (high is not None and value > high):
        raise ValueError(f"Argument `{name}` must be {rule}. Received: {name}={value}")
    return value


def _set_moments(optimizer, beta_1, beta_2, epsilon):
    """The checked beta_1, beta_2 and epsilon of the Adam family (Adam, AdamW, Adamax, Nadam)."""
    optimizer.beta_1 = _real(beta_1, "beta_1", 0, 1, "in [0, 1]")
    optimizer.beta_2 = _real(beta_2, "beta_2", 0, 1, "in [0, 1]")
    optimizer.epsilon = _real(epsilon, "epsilon", 0, None, "non-negative")


class SGD(Optimizer):
    """Gradient descent with optional momentum and Nesterov momentum.

    ``velocity = momentum * velocity - lr * g``; ``w += velocity`` (or ``w += momentum * velocity - lr * g`` with
    ``nesterov``); without momentum ``w -= lr * g``."""

    _kind = "sgd"

    def __init__(self, learning_rate=0.01, momentum=0.0, nesterov=False, weight_decay=None, clipnorm=None,
                 clipvalue=None, global_clipnorm=None, use_ema=False, ema_momentum=0.99,
                 ema_overwrite_frequency=None, loss_scale_factor=None, gradient_accumulation_steps=None,
                 name=None, **kwargs):
        super().__init__(learning_rate=learning_rate, weight_decay=weight_decay, clipnorm=clipnorm,
                         clipvalue=clipvalue, global_clipnorm=global_clipnorm, use_ema=use_ema,
                         ema_momentum=ema_momentum, ema_overwrite_frequency=ema_overwrite_frequency,
                         loss_scale_factor=loss_scale_factor,
                         gradient_accumulation_steps=gradient_accumulation_steps,
                         name=name, **kwargs)
        self.momentum = _real(momentum, "momentum", 0, 1, "a float in [0, 1]")
        self.nesterov = bool(nesterov)

    def _slot_groups(self):
        return [["momentum"]] if self.momentum != 0 else []

    def _update(self, variable, grad, slots, lr, step):
        _core.sgd_update(variable, grad, slots[0] if slots else None, lr, self.momentum, self.nesterov)

    def _hyper_parameters(self):
        return {"momentum": self.momentum, "nesterov": self.nesterov}


class Adam(Optimizer):
    """Adam: ``m += (g - m)(1 - beta_1)``, ``v += (g^2 - v)(1 - beta_2)``, ``w -= m * alpha / (sqrt(v) +
    epsilon)`` with ``alpha = lr * sqrt(1 - beta_2^t) / (1 - beta_1^t)``; amsgrad uses ``max`` of all v so far."""

    _kind = "adam"

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, amsgrad=False,
                 weight_decay=None, clipnorm=None, clipvalue=None, global_clipnorm=None, use_ema=False,
                 ema_momentum=0.99, ema_overwrite_frequency=None, loss_scale_factor=None,
                 gradient_accumulation_steps=None, name=None, **kwargs):
        super().__init__(learning_rate=learning_rate, weight_decay=weight_decay, clipnorm=clipnorm,
                         clipvalue=clipvalue, global_clipnorm=global_clipnorm, use_ema=use_ema,
                         ema_momentum=ema_momentum, ema_overwrite_frequency=ema_overwrite_frequency,
                         loss_scale_factor=loss_scale_factor,
                         gradient_accumulation_steps=gradient_accumulation_steps, name=name, **kwargs)
        _set_moments(self, beta_1, beta_2, epsilon)
        self.amsgrad = bool(amsgrad)

    def _slot_groups(self):
        return [["momentum", "velocity"]] + ([["velocity_hat"]] if self.amsgrad else [])

    def _update(self, variable, grad, slots, lr, step):
        v_hat = slots[2] if self.amsgrad else None
        _core.adam_update(variable, grad, slots[0], slots[1], v_hat, lr, self.beta_1, self.beta_2, self.epsilon,
                          step)

    def _hyper_parameters(self):
        return {"beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon, "amsgrad": self.amsgrad}


class AdamW(Adam):
    """Adam with decoupled weight decay (``w -= w * weight_decay * lr`` before each update); weight_decay is
    required (default 0.004)."""

    _kind = "adamw"

    def __init__(self, learning_rate=0.001, weight_decay=0.004, beta_1=0.9, beta_2=0.999, epsilon=1e-7,
                 amsgrad=False, clipnorm=None, clipvalue=None, global_clipnorm=None, use_ema=False,
                 ema_momentum=0.99, ema_overwrite_frequency=None, loss_scale_factor=None,
                 gradient_accumulation_steps=None, name=None, **kwargs):
        if weight_decay is None:
            raise ValueError("Argument `weight_decay` must be a float. Received: weight_decay=None")
        super().__init__(learning_rate=learning_rate, beta_1=beta_1, beta_2=beta_2, epsilon=epsilon,
                         amsgrad=amsgrad, weight_decay=weight_decay, clipnorm=clipnorm, clipvalue=clipvalue,
                         global_clipnorm=global_clipnorm, use_ema=use_ema, ema_momentum=ema_momentum,
                         ema_overwrite_frequency=ema_overwrite_frequency, loss_scale_factor=loss_scale_factor,
                         gradient_accumulation_steps=gradient_accumulation_steps,
                         name=name, **kwargs)


class RMSprop(Optimizer):
    """RMSprop: ``velocity = rho v + (1 - rho) g^2``; ``w -= lr g / sqrt(velocity + epsilon)`` (epsilon inside
    the root, as Keras); ``centered`` subtracts the squared moving mean of g; ``momentum`` accumulates the
    increments."""

    _kind = "rmsprop"

    def __init__(self, learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-7, centered=False,
                 weight_decay=None, clipnorm=None, clipvalue=None, global_clipnorm=None, use_ema=False,
                 ema_momentum=0.99, ema_overwrite_frequency=None, loss_scale_factor=None,
                 gradient_accumulation_steps=None, name=None, **kwargs):
        super().__init__(learning_rate=learning_rate, weight_decay=weight_decay, clipnorm=clipnorm,
                         clipvalue=clipvalue, global_clipnorm=global_clipnorm, use_ema=use_ema,
                         ema_momentum=ema_momentum, ema_overwrite_frequency=ema_overwrite_frequency,
                         loss_scale_factor=loss_scale_factor,
                         gradient_accumulation_steps=gradient_accumulation_steps,
                         name=name, **kwargs)
        self.rho = _real(rho, "rho", 0, 1, "in [0, 1]")
        self.momentum = _real(momentum, "momentum", 0, 1, "in [0, 1]")
        self.epsilon = _real(epsilon, "epsilon", 0, None, "non-negative")
        self.centered = bool(centered)

    def _slot_groups(self):
        groups = [["velocity"]]
        if self.momentum > 0:
            groups.append(["momentum"])
        if self.centered:
            groups.append(["average_gradient"])
        return groups

    def _update(self, variable, grad, slots, lr, step):
        rest = iter(slots[1:])
        momentum_buf = next(rest) if self.momentum > 0 else None
        average = next(rest) if self.centered else None
        _core.rmsprop_update(variable, grad, slots[0], momentum_buf, average, lr, self.rho, self.momentum,
                             self.epsilon)

    def _hyper_parameters(self):
        return {"rho": self.rho, "momentum": self.momentum, "epsilon": self.epsilon, "centered": self.centered}

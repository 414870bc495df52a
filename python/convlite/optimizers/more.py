"""Adagrad, Adadelta, Adamax, Nadam and Lion: Keras 3's arguments, defaults, configs, saved variables and update
formulas (the C++ kernels in cpp/src/kernels/optim_*.cpp follow Keras's operation order, epsilon placement and the
points where its constants become float32; cpp/include/convlite/train.hpp lists them)."""
from __future__ import annotations

import numpy as np

from .. import _core
from .algorithms import _real, _set_moments
from .base import Optimizer


def _base_arguments(weight_decay, clipnorm, clipvalue, global_clipnorm, use_ema, ema_momentum,
                    ema_overwrite_frequency, loss_scale_factor, gradient_accumulation_steps, name):
    return dict(weight_decay=weight_decay, clipnorm=clipnorm, clipvalue=clipvalue, global_clipnorm=global_clipnorm,
                use_ema=use_ema, ema_momentum=ema_momentum, ema_overwrite_frequency=ema_overwrite_frequency,
                loss_scale_factor=loss_scale_factor, gradient_accumulation_steps=gradient_accumulation_steps,
                name=name)


class Adagrad(Optimizer):
    """Adagrad: ``accumulator += g^2`` (starting at ``initial_accumulator_value``); ``w -= lr * g /
    sqrt(accumulator + epsilon)`` (epsilon inside the root, as Keras)."""

    _kind = "adagrad"

    def __init__(self, learning_rate=0.001, initial_accumulator_value=0.1, epsilon=1e-7, weight_decay=None,
                 clipnorm=None, clipvalue=None, global_clipnorm=None, use_ema=False, ema_momentum=0.99,
                 ema_overwrite_frequency=None, loss_scale_factor=None, gradient_accumulation_steps=None,
                 name=None, **kwargs):
        super().__init__(learning_rate=learning_rate, **_base_arguments(
            weight_decay, clipnorm, clipvalue, global_clipnorm, use_ema, ema_momentum, ema_overwrite_frequency,
            loss_scale_factor, gradient_accumulation_steps, name), **kwargs)
        self.initial_accumulator_value = _real(initial_accumulator_value, "initial_accumulator_value", 0, None,
                                               "non-negative")
        self.epsilon = _real(epsilon, "epsilon", 0, None, "non-negative")

    def _slot_groups(self):
        return [["accumulator"]]

    def _slot_initial_value(self, name):
        return self.initial_accumulator_value

    def _update(self, variable, grad, slots, lr, step):
        _core.adagrad_update(variable, grad, slots[0], lr, self.epsilon)

    def _hyper_parameters(self):
        return {"initial_accumulator_value": self.initial_accumulator_value, "epsilon": self.epsilon}


class Adadelta(Optimizer):
    """Adadelta: ``accumulated_grad = rho a + (1 - rho) g^2``; ``delta = -sqrt(accumulated_delta_var + epsilon) g
    / sqrt(accumulated_grad + epsilon)``; ``accumulated_delta_var = rho d + (1 - rho) delta^2``; ``w += lr *
    delta`` (Keras 3 keeps the learning rate, default 0.001)."""

    _kind = "adadelta"

    def __init__(self, learning_rate=0.001, rho=0.95, epsilon=1e-7, weight_decay=None, clipnorm=None,
                 clipvalue=None, global_clipnorm=None, use_ema=False, ema_momentum=0.99,
                 ema_overwrite_frequency=None, loss_scale_factor=None, gradient_accumulation_steps=None,
                 name=None, **kwargs):
        super().__init__(learning_rate=learning_rate, **_base_arguments(
            weight_decay, clipnorm, clipvalue, global_clipnorm, use_ema, ema_momentum, ema_overwrite_frequency,
            loss_scale_factor, gradient_accumulation_steps, name), **kwargs)
        self.rho = _real(rho, "rho", 0, 1, "in [0, 1]")
        self.epsilon = _real(epsilon, "epsilon", 0, None, "non-negative")

    def _slot_groups(self):
        return [["accumulated_grad", "accumulated_delta_var"]]

    def _update(self, variable, grad, slots, lr, step):
        _core.adadelta_update(variable, grad, slots[0], slots[1], lr, self.rho, self.epsilon)

    def _hyper_parameters(self):
        return {"rho": self.rho, "epsilon": self.epsilon}


class Adamax(Optimizer):
    """Adamax (Adam with the infinity norm): ``m += (g - m)(1 - beta_1)``; ``u = max(beta_2 u, |g|)``; ``w -= lr m
    / ((1 - beta_1^t)(u + epsilon))``."""

    _kind = "adamax"

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, weight_decay=None,
                 clipnorm=None, clipvalue=None, global_clipnorm=None, use_ema=False, ema_momentum=0.99,
                 ema_overwrite_frequency=None, loss_scale_factor=None, gradient_accumulation_steps=None,
                 name=None, **kwargs):
        super().__init__(learning_rate=learning_rate, **_base_arguments(
            weight_decay, clipnorm, clipvalue, global_clipnorm, use_ema, ema_momentum, ema_overwrite_frequency,
            loss_scale_factor, gradient_accumulation_steps, name), **kwargs)
        _set_moments(self, beta_1, beta_2, epsilon)

    def _slot_groups(self):
        return [["momentum", "norm"]]

    def _update(self, variable, grad, slots, lr, step):
        _core.adamax_update(variable, grad, slots[0], slots[1], lr, self.beta_1, self.beta_2, self.epsilon, step)

    def _hyper_parameters(self):
        return {"beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon}


class Nadam(Optimizer):
    """Nadam (Adam with Nesterov momentum, Keras 3's schedule ``u_t = beta_1 (1 - 0.5 * 0.96^t)``): m and v as
    Adam; ``m_hat = u_{t+1} m / (1 - u_product u_{t+1}) + (1 - u_t) g / (1 - u_product)``; ``w -= m_hat lr /
    (sqrt(v / (1 - beta_2^t)) + epsilon)``. ``u_product`` (the product of the u_t so far, float32) is one more
    saved variable, after the slots, as in Keras; it advances once per step before the updates."""

    _kind = "nadam"

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, weight_decay=None,
                 clipnorm=None, clipvalue=None, global_clipnorm=None, use_ema=False, ema_momentum=0.99,
                 ema_overwrite_frequency=None, loss_scale_factor=None, gradient_accumulation_steps=None,
                 name=None, **kwargs):
        super().__init__(learning_rate=learning_rate, **_base_arguments(
            weight_decay, clipnorm, clipvalue, global_clipnorm, use_ema, ema_momentum, ema_overwrite_frequency,
            loss_scale_factor, gradient_accumulation_steps, name), **kwargs)
        _set_moments(self, beta_1, beta_2, epsilon)
        self._u_product = np.array(1.0, dtype=np.float32)

    def _slot_groups(self):
        return [["momentum", "velocity"]]

    def build(self, variables):
        super().build(variables)
        self._u_product = np.array(1.0, dtype=np.float32)

    def _extra_variables(self):
        return [self._u_product]

    def slot_arrays(self):
        """m, v and the u_product every variable shares (the compiled step advances it once per step)."""
        return [slots + [self._u_product] for slots in super().slot_arrays()]

    def _before_updates(self, step):
        self._u_product[...] = _core.nadam_next_u_product(float(self._u_product), self.beta_1, step)

    def _update(self, variable, grad, slots, lr, step):
        _core.nadam_update(variable, grad, slots[0], slots[1], lr, self.beta_1, self.beta_2, self.epsilon, step,
                           float(self._u_product))

    def _hyper_parameters(self):
        return {"beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon}


class Lion(Optimizer):
    """Lion: ``w -= lr * sign(beta_1 m + (1 - beta_1) g)``, then ``m = beta_2 m + (1 - beta_2) g``."""

    _kind = "lion"

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.99, weight_decay=None, clipnorm=None,
                 clipvalue=None, global_clipnorm=None, use_ema=False, ema_momentum=0.99,
                 ema_overwrite_frequency=None, loss_scale_factor=None, gradient_accumulation_steps=None,
                 name=None, **kwargs):
        super().__init__(learning_rate=learning_rate, **_base_arguments(
            weight_decay, clipnorm, clipvalue, global_clipnorm, use_ema, ema_momentum, ema_overwrite_frequency,
            loss_scale_factor, gradient_accumulation_steps, name), **kwargs)
        self.beta_1 = _real(beta_1, "beta_1")
        if beta_1 <= 0 or beta_1 > 1:  # Keras's check and message
            raise ValueError("Argument `beta_1` must be in the [0, 1] range. Otherwise, the optimizer degenerates "
                             f"to SignSGD. Received: beta_1={beta_1}.")
        self.beta_2 = _real(beta_2, "beta_2", 0, 1, "in [0, 1]")

    def _slot_groups(self):
        return [["momentum"]]

    def _update(self, variable, grad, slots, lr, step):
        _core.lion_update(variable, grad, slots[0], lr, self.beta_1, self.beta_2)

    def _hyper_parameters(self):
        return {"beta_1": self.beta_1, "beta_2": self.beta_2}

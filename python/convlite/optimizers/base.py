"""The optimizer base class: learning rate (float or schedule), iterations, slot arrays, clipping, weight decay.

State lives in float32 numpy arrays (one list of slot arrays per trainable variable) that the C++ kernels update
in place, so the compiled training step and this standalone ``apply_gradients`` share it.

One update, in Keras 3's order (``BaseOptimizer.apply``):
1. clip the gradients: ``clipnorm`` per tensor, else ``global_clipnorm`` across all tensors, else ``clipvalue``;
2. decoupled weight decay ``w -= w * weight_decay * lr`` on every variable not excluded;
3. the optimizer's update with ``lr`` = the schedule at ``iterations`` (or the fixed rate) and step
   ``iterations + 1``; then ``iterations += 1``.
"""
from __future__ import annotations

import math
import numbers
import re

import numpy as np

from .. import _core
from . import schedules as schedules_lib


def _snake_case(name: str) -> str:
    # Keras's to_snake_case: SGD -> sgd, AdamW -> adam_w, RMSprop -> rm_sprop.
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()


def _optional_positive(value, name):
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"Argument `{name}` must be a float or None. Received: {name}={value!r}")
    if not value >= 0:
        raise ValueError(f"Argument `{name}` must be non-negative. Received: {name}={value}")
    return value



class LearningRateValue(float):
    """``optimizer.learning_rate``: the rate as a float, with the calls Keras code makes on the variable Keras keeps
    it in (``assign``, ``numpy``, ``value``). ``assign`` sets the optimizer's rate; this float keeps the value it
    was read with."""

    def __new__(cls, value, optimizer):
        obj = super().__new__(cls, value)
        obj._optimizer = optimizer
        return obj

    def assign(self, value):
        if isinstance(value, np.generic) or (isinstance(value, np.ndarray) and value.ndim == 0):
            value = value.item()  # a numpy scalar: the setter checks the Python number
        self._optimizer.learning_rate = value
        return self._optimizer.learning_rate

    def numpy(self):
        return np.float32(self)

    @property
    def value(self):
        return np.float32(self)

    dtype = "float32"
    shape = ()

class Optimizer:
    # Per-variable slot groups in Keras's creation order: names in one group are interleaved per variable
    # (Keras's add_optimizer_variables with a list of names), groups follow one another. Set by subclasses.
    def _slot_groups(self) -> list[list[str]]:
        return []

    def _slot_initial_value(self, name: str) -> float:
        return 0.0  # Adagrad starts its accumulators at initial_accumulator_value

    def _extra_variables(self) -> list[np.ndarray]:
        return []  # live state saved after the slots (Nadam's u_product)

    def _before_updates(self, step: int) -> None:
        pass  # once per step, before any variable's update (Nadam advances u_product)

    def __init__(self, learning_rate, weight_decay=None, clipnorm=None, clipvalue=None, global_clipnorm=None,
                 use_ema=False, ema_momentum=0.99, ema_overwrite_frequency=None, loss_scale_factor=None,
                 gradient_accumulation_steps=None, name=None, **kwargs):
        if kwargs:
            raise ValueError(f"Argument(s) not recognized: {kwargs}")
        if use_ema:
            raise ValueError("convlite optimizers do not support `use_ema`. Received: use_ema=True")
        if loss_scale_factor is not None:
            raise ValueError("convlite trains in float32 and does not support `loss_scale_factor`. "
                             f"Received: loss_scale_factor={loss_scale_factor}")
        if gradient_accumulation_steps is not None:
            raise ValueError("convlite optimizers do not support `gradient_accumulation_steps`. "
                             f"Received: gradient_accumulation_steps={gradient_accumulation_steps}")
        self.weight_decay = _optional_positive(weight_decay, "weight_decay")
        self.clipnorm = _optional_positive(clipnorm, "clipnorm")
        self.clipvalue = _optional_positive(clipvalue, "clipvalue")
        self.global_clipnorm = _optional_positive(global_clipnorm, "global_clipnorm")
        if sum(a is not None for a in (clipnorm, clipvalue, global_clipnorm)) > 1:
            raise ValueError("Only one of `clipnorm`, `clipvalue` and `global_clipnorm` can be set. "
                             f"Received: clipnorm={clipnorm}, clipvalue={clipvalue}, "
                             f"global_clipnorm={global_clipnorm}")
        self.use_ema = False
        self.ema_momentum = ema_momentum
        self.ema_overwrite_frequency = ema_overwrite_frequency
        self.loss_scale_factor = None
        self.gradient_accumulation_steps = None
        self.name = name if name is not None else _snake_case(type(self).__name__)
        self._iterations = 0
        self._learning_rate = None
        self.learning_rate = learning_rate
        self._variables = None  # the trainable arrays given to build()
        self._slots = {}  # slot name -> list of arrays, one per variable
        self._exclude_ids = set()
        self.built = False

    # ------------------------------------------------------------------ learning rate and iterations
    @property
    def learning_rate(self):
        """The current learning rate (schedule evaluated at ``iterations``): a float that also has Keras's
        variable methods, so ``optimizer.learning_rate.assign(0.01)`` and ``.numpy()`` work as in Keras 3."""
        return LearningRateValue(self.current_learning_rate(), self)

    @learning_rate.setter
    def learning_rate(self, value):
        if isinstance(value, schedules_lib.LearningRateSchedule) or (callable(value) and not isinstance(value, type)):
            self._learning_rate = value
            return
        if isinstance(self._learning_rate, schedules_lib.LearningRateSchedule):
            raise TypeError("This optimizer was created with a `LearningRateSchedule` as its `learning_rate`, "
                            f"which cannot be replaced by a float. Received: learning_rate={value!r}")
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise ValueError("Argument `learning_rate` should be float, or an instance of LearningRateSchedule, "
                             f"or a callable. Received instead: learning_rate={value!r}")
        self._learning_rate = np.float32(value)  # Keras keeps it in a float32 variable

    def current_learning_rate(self) -> float:
        """The learning rate the next update uses."""
        lr = self._learning_rate
        if isinstance(lr, schedules_lib.LearningRateSchedule):
            return float(np.float32(lr(self._iterations)))
        if callable(lr):
            return float(np.float32(lr()))
        return float(lr)

    @property
    def iterations(self) -> int:
        return self._iterations

    @iterations.setter
    def iterations(self, value):
        value = int(value)
        if value < 0:
            raise ValueError(f"`iterations` must be non-negative. Received: iterations={value}")
        self._iterations = value

    # ------------------------------------------------------------------ state
    def build(self, variables):
        """Create zeroed slot arrays for `variables`: the trainable weights in order, as float32 numpy arrays or
        as the layers' variables (``optimizer.build(model.trainable_variables)``, as in Keras)."""
        variables = [v.value if hasattr(v, "value") and isinstance(getattr(v, "value"), np.ndarray) else v
                     for v in variables]
        for i, v in enumerate(variables):
            if not isinstance(v, np.ndarray) or v.dtype != np.float32:
                raise TypeError("Optimizer variables must be float32 numpy arrays. Received: variables[%d] of "
                                "type %s%s" % (i, type(v).__name__,
                                               f" and dtype {v.dtype}" if isinstance(v, np.ndarray) else ""))
        self._variables = variables
        self._slots = {name: [np.full(v.shape, self._slot_initial_value(name), np.float32) for v in variables]
                       for group in self._slot_groups() for name in group}
        self.built = True

    def _slot_names(self) -> list[str]:
        return [name for group in self._slot_groups() for name in group]

    def slot_arrays(self) -> list[list[np.ndarray]]:
        """Per variable, its state arrays in the order the update kernel takes them (e.g. Adam: m, v[, v_hat])."""
        self._require_built()
        names = self._slot_names()
        return [[self._slots[name][i] for name in names] for i in range(len(self._variables))]

    @property
    def variables(self) -> list[np.ndarray]:
        """Keras 3's saving order (``optimizer/vars/<i>``): iterations (int64 scalar), learning_rate (float32
        scalar, only when it is not a schedule or callable), then the slots group by group, the names of one
        group interleaved per variable. Adam: m_0, v_0, m_1, v_1, ..., then v_hat_0, v_hat_1, ... (amsgrad).
        RMSprop: velocity_*, then momentum_* (momentum > 0), then average_gradient_* (centered). SGD:
        momentum_* (momentum != 0). Adadelta: accumulated_grad_0, accumulated_delta_var_0, ...; Adamax:
        momentum_0, norm_0, ...; Nadam: momentum_0, velocity_0, ..., then the scalar u_product. The slot
        entries are the live arrays, not copies."""
        out = [np.array(self._iterations, dtype=np.int64)]
        if not callable(self._learning_rate):
            out.append(np.array(self._learning_rate, dtype=np.float32))
        if self.built:
            for group in self._slot_groups():
                for i in range(len(self._variables)):
                    out.extend(self._slots[name][i] for name in group)
            out.extend(self._extra_variables())
        return out

    def set_weights(self, weights):
        """Load values in the order of ``variables`` (as read from a Keras file)."""
        self._require_built()
        current = self.variables
        if len(weights) != len(current):
            raise ValueError(f"Optimizer variable count mismatch: this optimizer has {len(current)} variables. "
                             f"Received: {len(weights)} values")
        for i, (target, value) in enumerate(zip(current, weights)):
            value = np.asarray(value)
            if value.shape != target.shape:
                raise ValueError(f"Optimizer variable {i} must have shape {target.shape}. "
                                 f"Received: shape {value.shape}")
        self.iterations = int(np.asarray(weights[0]))
        rest = list(zip(current[1:], weights[1:]))
        if not callable(self._learning_rate):
            self._learning_rate = np.float32(np.asarray(rest[0][1]))
            rest = rest[1:]
        for target, value in rest:
            target[...] = np.asarray(value, dtype=np.float32)

    def exclude_from_weight_decay(self, var_list=None, var_names=None):
        """Skip weight decay for these arrays (matched by identity). Call before build()."""
        if var_names:
            raise ValueError("convlite matches excluded variables by array identity; pass `var_list`. "
                             f"Received: var_names={var_names}")
        if self.built:
            raise ValueError("`exclude_from_weight_decay()` can only be configured before the optimizer is built.")
        self._exclude_ids = {id(v) for v in (var_list or [])}

    def _decay_mask(self) -> list[bool]:
        return [self.weight_decay is not None and id(v) not in self._exclude_ids for v in self._variables]

    def _require_built(self):
        if not self.built:
            raise ValueError("The optimizer has not been built: call `optimizer.build(variables)` first.")

    # ------------------------------------------------------------------ update
    def _core_spec(self) -> dict:
        """Everything the compiled training step needs besides the per-step learning rate and step."""
        spec = dict(kind=self._kind, weight_decay=self.weight_decay, clipnorm=self.clipnorm,
                    clipvalue=self.clipvalue, global_clipnorm=self.global_clipnorm)
        spec.update(self._hyper_parameters())
        if self.built:
            spec["decay_mask"] = self._decay_mask()
        return spec

    def _clip(self, grads):
        if self.clipnorm:
            for g in grads:
                norm = math.sqrt(_core.sum_of_squares(g))
                if norm > self.clipnorm:  # Keras: g * clipnorm / max(norm, clipnorm)
                    _core.scale_in_place(g, self.clipnorm / norm)
        elif self.global_clipnorm:
            norm = math.sqrt(math.fsum(_core.sum_of_squares(g) for g in grads))
            if not math.isfinite(norm):  # Keras turns every gradient into NaN then
                for g in grads:
                    g[...] = np.nan
            elif norm > self.global_clipnorm:
                for g in grads:
                    _core.scale_in_place(g, self.global_clipnorm / norm)
        elif self.clipvalue:
            for g in grads:
                _core.clip_in_place(g, -self.clipvalue, self.clipvalue)

    def apply_gradients(self, grads_and_vars):
        """One update of the (float32 numpy) variables in place from their gradients; returns ``iterations``."""
        pairs = list(grads_and_vars)
        variables = [v for _, v in pairs]
        if not self.built:
            self.build(variables)
        index = {id(v): i for i, v in enumerate(self._variables)}
        for v in variables:
            if id(v) not in index:
                raise ValueError("Unknown variable: apply_gradients got an array the optimizer was not built with "
                                 f"(shape {getattr(v, 'shape', None)}). Build it with all trainable variables.")
        grads = []
        for g, v in pairs:
            g = np.array(g, dtype=np.float32, order="C", copy=True)  # clipping works in place on our copy
            if g.shape != v.shape:
                raise ValueError(f"Gradient shape {g.shape} does not match its variable's shape. "
                                 f"Received: grad.shape={g.shape}, variable.shape={v.shape}")
            grads.append(g)
        self._clip(grads)
        lr = self.current_learning_rate()
        if self.weight_decay is not None:
            mask = self._decay_mask()
            for v in variables:
                if mask[index[id(v)]]:
                    _core.apply_weight_decay(v, lr, self.weight_decay)
        step = self._iterations + 1
        self._before_updates(step)
        slots = self.slot_arrays()
        for g, v in zip(grads, variables):
            self._update(v, g, slots[index[id(v)]], lr, step)
        self._iterations += 1
        return self._iterations

    def apply(self, grads, trainable_variables=None):
        if trainable_variables is None:
            self._require_built()
            trainable_variables = self._variables
        return self.apply_gradients(zip(grads, trainable_variables))

    # ------------------------------------------------------------------ config
    def _hyper_parameters(self) -> dict:
        return {}

    def get_config(self) -> dict:
        lr = self._learning_rate
        if isinstance(lr, schedules_lib.LearningRateSchedule):
            lr = schedules_lib.serialize(lr)
        elif callable(lr):
            raise ValueError("An optimizer whose learning rate is a plain callable cannot be serialized.")
        else:
            lr = float(lr)
        config = {"name": self.name, "learning_rate": lr, "weight_decay": self.weight_decay,
                  "clipnorm": self.clipnorm, "global_clipnorm": self.global_clipnorm, "clipvalue": self.clipvalue,
                  "use_ema": self.use_ema, "ema_momentum": self.ema_momentum,
                  "ema_overwrite_frequency": self.ema_overwrite_frequency,
                  "loss_scale_factor": self.loss_scale_factor,
                  "gradient_accumulation_steps": self.gradient_accumulation_steps}
        config.update(self._hyper_parameters())
        return config

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        if isinstance(config.get("learning_rate"), dict):
            config["learning_rate"] = schedules_lib.deserialize(config["learning_rate"])
        return cls(**config)

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name!r} learning_rate={self.current_learning_rate():g}>"

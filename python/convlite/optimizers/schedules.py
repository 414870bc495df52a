"""Learning-rate schedules with Keras 3's names, arguments, configs and values.

A schedule is called with the optimizer's ``iterations`` (the number of updates done so far) and returns the
learning rate for the next update. Values are computed in float32 with Keras's operation order, so they match
``keras.optimizers.schedules`` to float32 rounding.

>>> from convlite.optimizers import schedules
>>> s = schedules.ExponentialDecay(0.1, decay_steps=10, decay_rate=0.5)
>>> round(s(10), 6)
0.05
"""
from __future__ import annotations

import math

import numpy as np

__all__ = ["LearningRateSchedule", "ExponentialDecay", "InverseTimeDecay", "PolynomialDecay", "CosineDecay",
           "CosineDecayRestarts", "PiecewiseConstantDecay", "serialize", "deserialize"]

f32 = np.float32


def _progress(step, decay_steps, staircase):
    """step / decay_steps in float32, floored when ``staircase`` (Exponential and InverseTime decay)."""
    p = f32(step) / f32(decay_steps)
    return np.floor(p) if staircase else p


def _positive_steps(decay_steps):
    if not decay_steps > 0:
        raise ValueError(f"Argument `decay_steps` must be > 0. Received: decay_steps={decay_steps}")


class LearningRateSchedule:
    """Base class: subclasses define ``__call__(step) -> float``; ``get_config()`` returns the attributes named in
    ``_config_keys`` (their constructor arguments, in Keras's order) unless a subclass overrides it."""

    _config_keys: tuple = ()

    def __call__(self, step):
        raise NotImplementedError(f"Learning rate schedule '{type(self).__name__}' must override `__call__(step)`.")

    def get_config(self):
        if not self._config_keys:
            raise NotImplementedError(f"Learning rate schedule '{type(self).__name__}' must override `get_config()`.")
        return {key: getattr(self, key) for key in self._config_keys}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        return f"{type(self).__name__}({self.get_config()})"


class ExponentialDecay(LearningRateSchedule):
    """``initial_learning_rate * decay_rate ** (step / decay_steps)`` (integer division if ``staircase``)."""

    _config_keys = ("initial_learning_rate", "decay_steps", "decay_rate", "staircase", "name")

    def __init__(self, initial_learning_rate, decay_steps, decay_rate, staircase=False, name="ExponentialDecay"):
        _positive_steps(decay_steps)
        self.initial_learning_rate = initial_learning_rate
        self.decay_steps = decay_steps
        self.decay_rate = decay_rate
        self.staircase = staircase
        self.name = name

    def __call__(self, step):
        p = _progress(step, self.decay_steps, self.staircase)
        return float(f32(self.initial_learning_rate) * np.power(f32(self.decay_rate), p))


class InverseTimeDecay(LearningRateSchedule):
    """``initial_learning_rate / (1 + decay_rate * step / decay_steps)`` (floored ratio if ``staircase``)."""

    _config_keys = ("initial_learning_rate", "decay_steps", "decay_rate", "staircase", "name")

    def __init__(self, initial_learning_rate, decay_steps, decay_rate, staircase=False, name="InverseTimeDecay"):
        _positive_steps(decay_steps)
        self.initial_learning_rate = initial_learning_rate
        self.decay_steps = decay_steps
        self.decay_rate = decay_rate
        self.staircase = staircase
        self.name = name

    def __call__(self, step):
        p = _progress(step, self.decay_steps, self.staircase)
        return float(f32(self.initial_learning_rate) / (f32(1) + f32(self.decay_rate) * p))


class PolynomialDecay(LearningRateSchedule):
    """``(initial - end) * (1 - step / decay_steps) ** power + end``, step capped at decay_steps (or, with
    ``cycle``, decay_steps stretched to the next multiple above step)."""

    _config_keys = ("initial_learning_rate", "decay_steps", "end_learning_rate", "power", "cycle", "name")

    def __init__(self, initial_learning_rate, decay_steps, end_learning_rate=0.0001, power=1.0, cycle=False,
                 name="PolynomialDecay"):
        _positive_steps(decay_steps)
        self.initial_learning_rate = initial_learning_rate
        self.decay_steps = decay_steps
        self.end_learning_rate = end_learning_rate
        self.power = power
        self.cycle = cycle
        self.name = name

    def __call__(self, step):
        initial, end = f32(self.initial_learning_rate), f32(self.end_learning_rate)
        step, decay_steps = f32(step), f32(self.decay_steps)
        if self.cycle:
            multiplier = f32(1) if step == 0 else np.ceil(step / decay_steps)
            decay_steps = decay_steps * multiplier
        else:
            step = min(step, decay_steps)
        p = step / decay_steps
        return float((initial - end) * np.power(f32(1) - p, f32(self.power)) + end)


class CosineDecay(LearningRateSchedule):
    """Optional linear warmup from ``initial_learning_rate`` to ``warmup_target`` over ``warmup_steps``, then
    cosine decay over ``decay_steps`` down to ``alpha`` times the starting rate, constant afterwards."""

    _config_keys = ("initial_learning_rate", "decay_steps", "alpha", "name", "warmup_target", "warmup_steps")

    def __init__(self, initial_learning_rate, decay_steps, alpha=0.0, name="CosineDecay", warmup_target=None,
                 warmup_steps=0):
        _positive_steps(decay_steps)
        self.initial_learning_rate = initial_learning_rate
        self.decay_steps = decay_steps
        self.alpha = alpha
        self.name = name
        self.warmup_steps = warmup_steps
        self.warmup_target = warmup_target

    def _decay(self, step, decay_steps, decay_from):
        fraction = step / decay_steps
        cosine = f32(0.5) * (f32(1) + np.cos(f32(math.pi) * fraction))
        decayed = f32(1 - self.alpha) * cosine + f32(self.alpha)
        return decay_from * decayed

    def __call__(self, step):
        initial = f32(self.initial_learning_rate)
        decay_steps, step = f32(self.decay_steps), f32(step)
        if self.warmup_target is None:
            return float(self._decay(min(step, decay_steps), decay_steps, initial))
        target, warmup_steps = f32(self.warmup_target), f32(self.warmup_steps)
        step = min(step, decay_steps + warmup_steps)
        if step < warmup_steps:
            return float((target - initial) * (step / warmup_steps) + initial)
        return float(self._decay(step - warmup_steps, decay_steps, target))


class CosineDecayRestarts(LearningRateSchedule):
    """Cosine decay with warm restarts (SGDR): the multiplier falls from 1 to ``alpha`` over ``first_decay_steps``,
    then restarts; period i lasts ``t_mul ** i`` times longer and starts at ``m_mul ** i`` times the rate."""

    def __init__(self, initial_learning_rate, first_decay_steps, t_mul=2.0, m_mul=1.0, alpha=0.0, name="SGDRDecay"):
        if not first_decay_steps > 0:
            raise ValueError(f"Argument `first_decay_steps` must be > 0. Received: "
                             f"first_decay_steps={first_decay_steps}")
        self.initial_learning_rate = initial_learning_rate
        self.first_decay_steps = first_decay_steps
        self._t_mul = t_mul
        self._m_mul = m_mul
        self.alpha = alpha
        self.name = name

    def __call__(self, step):
        t_mul, m_mul, alpha = f32(self._t_mul), f32(self._m_mul), f32(self.alpha)
        fraction = f32(step) / f32(self.first_decay_steps)
        if t_mul == f32(1):
            restart = np.floor(fraction)
            fraction = fraction - restart
        else:  # periods grow geometrically: find the restart index from the sum of the series
            restart = np.floor(np.log(f32(1) - fraction * (f32(1) - t_mul)) / np.log(t_mul))
            completed = (f32(1) - np.power(t_mul, restart)) / (f32(1) - t_mul)
            fraction = (fraction - completed) / np.power(t_mul, restart)
        cosine = f32(0.5) * np.power(m_mul, restart) * (f32(1) + np.cos(f32(math.pi) * fraction))
        decayed = (f32(1) - alpha) * cosine + alpha
        return float(f32(self.initial_learning_rate) * decayed)

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate, "first_decay_steps": self.first_decay_steps,
                "t_mul": self._t_mul, "m_mul": self._m_mul, "alpha": self.alpha, "name": self.name}


class PiecewiseConstantDecay(LearningRateSchedule):
    """``values[0]`` while ``step <= boundaries[0]``, ``values[i]`` for ``boundaries[i-1] < step <=
    boundaries[i]``, ``values[-1]`` after the last boundary."""

    _config_keys = ("boundaries", "values", "name")

    def __init__(self, boundaries, values, name="PiecewiseConstant"):
        if len(boundaries) != len(values) - 1:
            raise ValueError("The length of boundaries should be 1 less than the length of values. Received: "
                             f"boundaries={boundaries} of length {len(boundaries)}, and values={values} of length "
                             f"{len(values)}.")
        self.boundaries = boundaries
        self.values = values
        self.name = name

    def __call__(self, step):
        for boundary, value in zip(self.boundaries, self.values):
            if step <= boundary:
                return float(f32(value))
        return float(f32(self.values[-1]))


_SCHEDULES = {cls.__name__: cls for cls in (ExponentialDecay, InverseTimeDecay, PolynomialDecay, CosineDecay,
                                            CosineDecayRestarts, PiecewiseConstantDecay)}


def serialize(schedule) -> dict:
    """The dict Keras writes for a schedule (inside an optimizer's config)."""
    return {"module": "keras.optimizers.schedules", "class_name": type(schedule).__name__,
            "config": schedule.get_config(), "registered_name": None}


def deserialize(config: dict) -> LearningRateSchedule:
    name = config.get("class_name")
    if name not in _SCHEDULES:
        raise ValueError(f"Unknown learning rate schedule. Allowed: {sorted(_SCHEDULES)}. "
                         f"Received: class_name={name!r}")
    return _SCHEDULES[name].from_config(dict(config.get("config", {})))

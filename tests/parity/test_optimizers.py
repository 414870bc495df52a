"""Optimizer updates against Keras's ``apply_gradients`` on a fixed sequence of random gradients (25 steps), through
both convlite routes: the compiled model's training step (the C++ update that ``fit`` uses) and the Python
optimizer's ``apply_gradients``.

The model route feeds chosen gradients the way bridge.py does: ``Input((4,)) -> Dense(8)`` on the identity batch
predicts ``kernel + bias``; with MSE and the target ``prediction - G * size / 2`` the kernel's gradient is ``G`` and the
bias's is the column sums of ``G``. Keras gets the same two gradients.

Tolerance: |ours - keras| <= 1e-6 * |keras| + 1e-6 * max|keras| per variable after every step. The weights start
near zero (scale 0.01), so an update that is off by a few parts per million shows (as Adam's was with beta_2
narrowed to float32).
"""
from __future__ import annotations

import numpy as np
import pytest

import convlite
from convlite import optimizers

pytestmark = pytest.mark.tensorflow

ROWS, UNITS, STEPS = 4, 8, 25
RTOL, ATOL_SCALE = 1e-6, 1e-6


def _schedule(lib, name):
    schedules = lib.optimizers.schedules
    return {"exponential": lambda: schedules.ExponentialDecay(0.05, decay_steps=4, decay_rate=0.5),
            "piecewise": lambda: schedules.PiecewiseConstantDecay([5, 12], [0.1, 0.05, 0.01]),
            "cosine": lambda: schedules.CosineDecay(0.05, decay_steps=20, alpha=0.1)}[name]()


CASES = {
    "sgd": ("SGD", {"learning_rate": 0.1}),
    "sgd_momentum": ("SGD", {"learning_rate": 0.1, "momentum": 0.9}),
    "sgd_nesterov": ("SGD", {"learning_rate": 0.1, "momentum": 0.8, "nesterov": True}),
    "sgd_clipnorm": ("SGD", {"learning_rate": 0.1, "clipnorm": 0.5}),
    "sgd_global_clipnorm": ("SGD", {"learning_rate": 0.1, "global_clipnorm": 0.7}),
    "sgd_exponential_decay": ("SGD", {"learning_rate": "exponential", "momentum": 0.5}),
    "adam": ("Adam", {"learning_rate": 0.01}),
    "adam_betas_epsilon": ("Adam", {"learning_rate": 0.01, "beta_1": 0.8, "beta_2": 0.99, "epsilon": 1e-3}),
    "adam_amsgrad": ("Adam", {"learning_rate": 0.01, "amsgrad": True}),
    "adam_clipvalue": ("Adam", {"learning_rate": 0.01, "clipvalue": 0.3}),
    "adam_piecewise": ("Adam", {"learning_rate": "piecewise"}),
    "adamw": ("AdamW", {"learning_rate": 0.01, "weight_decay": 0.1}),
    "rmsprop": ("RMSprop", {"learning_rate": 0.01}),
    "rmsprop_rho_momentum": ("RMSprop", {"learning_rate": 0.01, "rho": 0.8, "momentum": 0.5}),
    "rmsprop_centered": ("RMSprop", {"learning_rate": 0.01, "centered": True, "epsilon": 1e-4}),
    "rmsprop_cosine": ("RMSprop", {"learning_rate": "cosine"}),
}


def _make(lib, case):
    name, kwargs = CASES[case]
    kwargs = dict(kwargs)
    if isinstance(kwargs["learning_rate"], str):
        kwargs["learning_rate"] = _schedule(lib, kwargs["learning_rate"])
    return getattr(lib.optimizers, name)(**kwargs)


def _gradients():
    rng = np.random.default_rng(12)
    for _ in range(STEPS):
        g = rng.normal(size=(ROWS, UNITS)).astype(np.float32)
        yield g, g.astype(np.float64).sum(axis=0).astype(np.float32)


def _close(got, want, what):
    np.testing.assert_allclose(got, want, rtol=RTOL, atol=ATOL_SCALE * np.max(np.abs(want)), err_msg=what)


@pytest.mark.parametrize("route", ["model", "apply_gradients"])
@pytest.mark.parametrize("case", list(CASES))
def test_updates_match_keras(keras, case, route):
    rng = np.random.default_rng(2)
    kernel0 = rng.normal(scale=0.01, size=(ROWS, UNITS)).astype(np.float32)
    bias0 = rng.normal(scale=0.01, size=UNITS).astype(np.float32)
    k_kernel, k_bias = keras.Variable(kernel0), keras.Variable(bias0)
    k_opt = _make(keras, case)
    if route == "model":
        dense = convlite.layers.Dense(UNITS)
        model = convlite.Sequential([convlite.Input((ROWS,)), dense])
        model.compile(_make(convlite, case), "mse")
        model.set_weights([kernel0, bias0])
        kernel, bias = dense.kernel.value, dense.bias.value
    else:
        kernel, bias = kernel0.copy(), bias0.copy()
        opt = _make(convlite, case)
    eye = np.eye(ROWS, dtype=np.float32)
    for step, (g_kernel, g_bias) in enumerate(_gradients()):
        k_opt.apply_gradients([(g_kernel, k_kernel), (g_bias, k_bias)])
        if route == "model":
            prediction = kernel.astype(np.float64) + bias
            model.train_on_batch(eye, (prediction - g_kernel * (g_kernel.size / 2)).astype(np.float32))
        else:
            opt.apply_gradients([(g_kernel, kernel), (g_bias, bias)])
        _close(kernel, k_kernel.numpy(), f"kernel after step {step + 1}")
        _close(bias, k_bias.numpy(), f"bias after step {step + 1}")

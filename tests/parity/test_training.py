"""Whole training runs against Keras: the same model from the same initial weights (set_weights), the same batches
in the same order (no shuffling), the same optimizer (SGD with momentum, Adam, RMSprop), 100 steps of
``train_on_batch`` on each side (it returns each batch's own loss in both libraries).

Tolerances:
* the loss of every step: relative 1e-3 (the issue's bar; observed <= 1e-5 with SGD and Adam, up to 3e-4 with RMSprop,
  whose g / sqrt(v) turns float32 rounding differences in near-zero gradients into full-size steps);
* the final weights, per array: |ours - keras| <= 1e-3 * |keras| + 1e-4 * max|keras| (float32 rounding differences
  compound over 100 steps, amplified by momentum and by Adam's and RMSprop's division by sqrt(v));
  With RMSprop the bound is 1e-2 * |keras| + one learning-rate step (1e-3): on the ECG model at step 48 a conv pre-activation
  is 1.6e-9 at a scale of 1.9 (below float32 rounding), so the two libraries' relu masks differ in one cell, and
  RMSprop's normalised step turns that one-cell gradient difference into a visible weight difference (1.4e-3 of
  the kernel's scale; at most 4e-4, under one step of lr 1e-3, in any element) that the remaining steps carry on;
  the losses still agree within 1e-3;
* BatchNormalization's moving_mean / moving_variance after training: the same bound as the weights.
"""
from __future__ import annotations

import numpy as np
import pytest

import convlite
from convlite import optimizers

pytestmark = pytest.mark.tensorflow

STEPS = 100
BATCH = 16
LOSS_RTOL = 1e-3
WEIGHT_RTOL, WEIGHT_ATOL_SCALE = 1e-3, 1e-4


def ecg_model(lib):
    """The seed ECG shape."""
    L = lib.layers
    return lib.Sequential([lib.Input((100, 1)), L.Conv1D(16, 3, activation="relu"),
                           L.Conv1D(8, 3, activation="relu"), L.Flatten(), L.Dense(1, activation="sigmoid")])


def ecg_data(rng, n=64):
    x = rng.normal(size=(n, 100, 1)).astype(np.float32)
    y = (x[:, :50, 0].mean(axis=1) > 0).astype(np.float32)[:, None]
    return x, y


def image_model(lib):
    """Conv2D + BatchNormalization + pooling + Dense softmax. No bias before BatchNormalization: its true gradient
    is zero, so it would only integrate rounding noise (which Adam even normalises into full-size steps)."""
    L = lib.layers
    return lib.Sequential([lib.Input((9, 9, 2)), L.Conv2D(6, 3, padding="same", use_bias=False), L.BatchNormalization(),
                           L.Activation("relu"), L.MaxPooling2D(), L.Conv2D(5, 2, activation="relu"), L.Flatten(),
                           L.Dense(4, activation="softmax")])


def image_data(rng, n=48):
    x = rng.normal(size=(n, 9, 9, 2)).astype(np.float32)
    y = np.argmax(x[:, ::3, ::3, 0].reshape(n, -1)[:, :4], axis=1).astype(np.int64)
    return x, y


def stacked_activations_model(lib):
    """LeNet-like, with activation layers back to back: the model runs their backward in place over the incoming
    gradient, so consecutive ones share one gradient buffer."""
    L = lib.layers
    return lib.Sequential([lib.Input((10, 10, 1)), L.Conv2D(4, 3, activation="tanh"), L.Activation("sigmoid"),
                           L.AveragePooling2D(2), L.Conv2D(5, 2), L.LeakyReLU(), L.Activation("tanh"), L.Flatten(),
                           L.Dense(8, activation="tanh"), L.Dense(3, activation="softmax")])


def stacked_activations_data(rng, n=48):
    x = rng.normal(size=(n, 10, 10, 1)).astype(np.float32)
    y = np.argmax(x[:, 2:8:2, 3, 0], axis=1).astype(np.int64)
    return x, y


MODELS = {"ecg": (ecg_model, ecg_data, "binary_crossentropy"),
          "image_bn": (image_model, image_data, "sparse_categorical_crossentropy"),
          "stacked_activations": (stacked_activations_model, stacked_activations_data,
                                  "sparse_categorical_crossentropy")}
OPTIMIZERS = {"sgd_momentum": ("SGD", {"learning_rate": 0.02, "momentum": 0.9}),
              "adam": ("Adam", {"learning_rate": 2e-3}),
              "rmsprop": ("RMSprop", {"learning_rate": 1e-3, "rho": 0.8})}


@pytest.mark.parametrize("optimizer", list(OPTIMIZERS))
@pytest.mark.parametrize("model_name", list(MODELS))
def test_hundred_steps_match_keras(keras, model_name, optimizer):
    make, data, loss = MODELS[model_name]
    convlite.utils.set_random_seed(11)  # the initial weights (copied to Keras)
    x, y = data(np.random.default_rng(7))
    ours, theirs = make(convlite), make(keras)
    theirs.set_weights(ours.get_weights())
    opt_name, opt_args = OPTIMIZERS[optimizer]
    ours.compile(getattr(optimizers, opt_name)(**opt_args), loss)
    theirs.compile(getattr(keras.optimizers, opt_name)(**opt_args), loss)
    batches = len(x) // BATCH
    losses_ours, losses_theirs = [], []
    for step in range(STEPS):
        part = slice((step % batches) * BATCH, (step % batches + 1) * BATCH)
        losses_ours.append(ours.train_on_batch(x[part], y[part]))
        losses_theirs.append(theirs.train_on_batch(x[part], y[part]))
    np.testing.assert_allclose(losses_ours, losses_theirs, rtol=LOSS_RTOL, err_msg="per-step losses")
    assert losses_theirs[-1] < losses_theirs[0]  # the run trains: a flat run would prove little
    for layer_ours, layer_theirs in zip(ours.layers, theirs.layers):
        for var_ours, var_theirs in zip(layer_ours.weights, layer_theirs.weights):
            want = var_theirs.numpy()
            rtol, atol = WEIGHT_RTOL, WEIGHT_ATOL_SCALE * np.max(np.abs(want))
            if optimizer == "rmsprop":
                rtol, atol = 10 * WEIGHT_RTOL, OPTIMIZERS["rmsprop"][1]["learning_rate"]
            np.testing.assert_allclose(var_ours.numpy(), want, rtol=rtol, atol=atol,
                                       err_msg=f"{layer_ours.name}/{var_ours.name}")
    if model_name == "image_bn":
        bn = ours.layers[1]
        assert bn.moving_mean.numpy().any() and not np.allclose(bn.moving_variance.numpy(), 1.0)

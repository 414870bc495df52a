"""Every convlite layer type against Keras with the same weights, over a grid of arguments (layer_cases.py).

For each case:
* inference forward: ``layer(x)`` against ``keras_layer(x, training=False)``;
* one training step: the training-mode forward, the input gradient and every trainable weight's gradient for a
  fixed random upstream gradient (Keras: tf.GradientTape; convlite: its C++ train step, read back as bridge.py
  explains), and BatchNormalization's moving statistics after the step.

Tolerances (float32 on both sides, different summation orders):
* forward:   |ours - keras| <= 1e-5 * |keras| + 1e-5 * max|keras|
* gradients: |ours - keras| <= 1e-4 * |keras| + 2e-5 * max|keras|  (per array)
The absolute part scales with the array's largest magnitude: an output near zero that is a sum of O(1) products
carries their rounding error, not its own.
"""
from __future__ import annotations

import numpy as np
import pytest

import convlite
from parity.bridge import ConvliteProbe, keras_forward_and_grads
from parity.layer_cases import ALL_CASES

pytestmark = pytest.mark.tensorflow

FORWARD_RTOL, FORWARD_ATOL_SCALE = 1e-5, 1e-5
GRAD_RTOL, GRAD_ATOL_SCALE = 1e-4, 2e-5
BATCH = 3
CASES = {case_id: (make, shape) for case_id, make, shape in ALL_CASES}
# Dropout with a positive rate draws different masks in each library: only inference (identity) is comparable;
# test_dropout_training checks convlite's mask against Keras's rule instead.
RANDOM_IN_TRAINING = {case_id for case_id, make, _ in ALL_CASES if "Dropout" in make.cls_name and
                      not case_id.endswith("-0.0")}


def assert_close(got, want, rtol, atol_scale, what):
    want = np.asarray(want, np.float64)
    atol = atol_scale * max(float(np.max(np.abs(want))) if want.size else 0.0, 1e-30)
    assert np.shape(got) == want.shape, f"{what}: shape {np.shape(got)} != Keras's {want.shape}"
    np.testing.assert_allclose(got, want, rtol=rtol, atol=atol, err_msg=what)


def _paired_layers(keras, case_id, seed):
    """The convlite layer (inside its probe model) and the Keras layer, with the same random weights."""
    make, shape = CASES[case_id]
    rng = np.random.default_rng(seed)
    ours, theirs = make(convlite.layers), make(keras.layers)
    probe = ConvliteProbe(ours, shape, BATCH)
    theirs.build((None, *shape))
    weights = []
    for var in ours.weights:
        value = rng.normal(scale=0.5, size=var.shape)
        if "variance" in var.name:
            value = np.abs(value) + 0.5
        weights.append(value.astype(np.float32))
    ours.set_weights(weights)
    theirs.set_weights(weights)
    x = rng.normal(size=(BATCH, *shape)).astype(np.float32)
    return probe, ours, theirs, x, rng


@pytest.mark.parametrize("case_id", list(CASES))
def test_inference_forward(keras, tf, case_id):
    _, ours, theirs, x, _ = _paired_layers(keras, case_id, seed=1)
    expected, _, _ = keras_forward_and_grads(tf, theirs, x, None, training=False)
    got = ours(x)
    assert ours.compute_output_shape((None, *x.shape[1:]))[1:] == expected.shape[1:]
    assert_close(got, expected, FORWARD_RTOL, FORWARD_ATOL_SCALE, "forward")


@pytest.mark.parametrize("case_id", [c for c in CASES if c not in RANDOM_IN_TRAINING])
def test_training_step(keras, tf, case_id):
    probe, ours, theirs, x, rng = _paired_layers(keras, case_id, seed=2)
    upstream = rng.normal(size=(BATCH, *theirs.compute_output_shape((None, *x.shape[1:]))[1:])).astype(np.float32)
    y_keras, dx_keras, dw_keras = keras_forward_and_grads(tf, theirs, x, upstream, training=True)
    y, dx, dws = probe.run(x, upstream)
    assert_close(y, y_keras, FORWARD_RTOL, FORWARD_ATOL_SCALE, "training forward")
    assert_close(dx, dx_keras, GRAD_RTOL, GRAD_ATOL_SCALE, "input gradient")
    assert [w.name for w in ours.trainable_weights] == [_short(w) for w in theirs.trainable_weights]
    for var, got, want in zip(ours.trainable_weights, dws, dw_keras):
        assert_close(got, want, GRAD_RTOL, GRAD_ATOL_SCALE, f"gradient of {var.name}")
    for ours_var, their_var in zip(ours.non_trainable_weights, theirs.non_trainable_weights):
        assert_close(ours_var.numpy(), their_var.numpy(), FORWARD_RTOL, FORWARD_ATOL_SCALE, ours_var.name)


def _short(variable):
    return variable.path.rsplit("/", 1)[-1]

"""Training-mode behaviour that the grid in test_layers.py cannot compare value for value.

* A frozen BatchNormalization (``trainable = False``) runs in inference mode even inside a training step (Keras 3):
  moving statistics are used and left unchanged, and the input gradient is ``gamma / sqrt(var + eps)`` times the
  upstream gradient.
* Dropout with a positive rate draws different masks in each library, so each side is checked against Keras's rule
  (every output is 0 or ``x / (1 - rate)``; the gradient flows through kept units only, scaled the same way;
  SpatialDropout keeps or drops a whole channel) and Keras's own output is checked against the same rule.
Tolerances as in test_layers.py.
"""
from __future__ import annotations

import numpy as np
import pytest

import convlite
from parity.bridge import ConvliteProbe, keras_forward_and_grads
from parity.layer_cases import ALL_CASES
from parity.test_layers import (
    BATCH, CASES, FORWARD_ATOL_SCALE, FORWARD_RTOL, GRAD_ATOL_SCALE, GRAD_RTOL, RANDOM_IN_TRAINING, _paired_layers,
    assert_close,
)

pytestmark = pytest.mark.tensorflow

BATCHNORM = [case_id for case_id, make, _ in ALL_CASES if make.cls_name == "BatchNormalization"]


@pytest.mark.parametrize("case_id", BATCHNORM)
def test_frozen_batchnorm_trains_in_inference_mode(keras, tf, case_id):
    probe, ours, theirs, x, rng = _paired_layers(keras, case_id, seed=3)
    ours.trainable = theirs.trainable = False
    moving = [w.numpy() for w in ours.non_trainable_weights]
    upstream = rng.normal(size=x.shape).astype(np.float32)
    y_keras, dx_keras, _ = keras_forward_and_grads(tf, theirs, x, upstream, training=True)
    y, dx, dws = probe.run(x, upstream)
    assert dws == [] and ours.trainable_weights == []
    assert_close(y, y_keras, FORWARD_RTOL, FORWARD_ATOL_SCALE, "forward")
    assert_close(y, np.asarray(theirs(x, training=False)), FORWARD_RTOL, FORWARD_ATOL_SCALE, "inference forward")
    assert_close(dx, dx_keras, GRAD_RTOL, GRAD_ATOL_SCALE, "input gradient")
    for before, var, their_var in zip(moving, ours.non_trainable_weights, theirs.non_trainable_weights):
        np.testing.assert_array_equal(var.numpy(), before, err_msg=var.name)
        np.testing.assert_array_equal(their_var.numpy(), before, err_msg=var.name)


@pytest.mark.parametrize("case_id", sorted(RANDOM_IN_TRAINING))
def test_dropout_training_follows_keras_rule(keras, tf, case_id):
    make, _ = CASES[case_id]
    shape = (7, 9, 8) if case_id.startswith("SpatialDropout2D") else (11, 8)  # >= 24 channel decisions per batch
    ours, theirs = make(convlite.layers), make(keras.layers)
    probe = ConvliteProbe(ours, shape, BATCH)
    rng = np.random.default_rng(4)
    x = np.abs(rng.normal(size=(BATCH, *shape))).astype(np.float32) + 0.1  # no zeros: an output of 0 means dropped
    upstream = rng.normal(size=x.shape).astype(np.float32)
    y_keras, dx_keras, _ = keras_forward_and_grads(tf, theirs, x, upstream, training=True)
    y, dx, _ = probe.run(x, upstream)
    scale = 1.0 / (1.0 - ours.rate)
    for name, out, grad in (("convlite", y, dx), ("keras", y_keras, dx_keras)):
        kept = out != 0
        assert 0 < kept.mean() < 1, f"{name}: a rate of {ours.rate} should drop some units and keep others"
        assert_close(np.where(kept, out, 0), np.where(kept, x * scale, 0), FORWARD_RTOL, FORWARD_ATOL_SCALE,
                     f"{name} kept units")
        assert_close(grad, np.where(kept, upstream * scale, 0), GRAD_RTOL, GRAD_ATOL_SCALE, f"{name} gradient")
        if "Spatial" in case_id:  # one decision per (sample, channel): constant over every spatial axis
            flat = kept.reshape(BATCH, -1, x.shape[-1])
            assert (flat == flat[:, :1]).all(), f"{name}: SpatialDropout must drop whole channels"

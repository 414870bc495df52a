"""Every layer against Keras with copied weights: forward (inference) and one training step (the backward)."""
from __future__ import annotations

import numpy as np
import pytest

import convlite
from helpers import tensorflow_or_skip

# (factory taking a layers module, per-sample input shape). Odd sizes on purpose.
CASES = {
    "conv1d_valid": (lambda L: L.Conv1D(5, 3), (13, 3)),
    "conv1d_same_stride": (lambda L: L.Conv1D(4, 4, strides=2, padding="same", activation="relu"), (11, 2)),
    "conv1d_causal_dilated": (lambda L: L.Conv1D(3, 3, padding="causal", dilation_rate=2, activation="tanh"), (9, 2)),
    "conv1d_groups": (lambda L: L.Conv1D(4, 3, groups=2, use_bias=False, activation="leaky_relu"), (10, 4)),
    "conv2d_same": (lambda L: L.Conv2D(6, (3, 2), padding="SAME", activation="relu"), (7, 6, 3)),
    "conv2d_stride_valid": (lambda L: L.Conv2D(3, 3, strides=(2, 1), activation="sigmoid"), (9, 8, 2)),
    "conv2d_dilated": (lambda L: L.Conv2D(2, 2, dilation_rate=2, activation="elu"), (7, 7, 2)),
    "depthwise1d": (lambda L: L.DepthwiseConv1D(3, depth_multiplier=2, padding="same"), (9, 3)),
    "depthwise2d": (lambda L: L.DepthwiseConv2D(3, strides=2, activation="relu"), (9, 8, 3)),
    "separable1d": (lambda L: L.SeparableConv1D(4, 3, depth_multiplier=2), (10, 3)),
    "separable2d": (lambda L: L.SeparableConv2D(5, 3, padding="same", activation="relu"), (6, 7, 2)),
    "maxpool1d": (lambda L: L.MaxPooling1D(3, strides=2, padding="same"), (11, 3)),
    "maxpool2d": (lambda L: L.MaxPooling2D(), (7, 6, 3)),
    "avgpool1d": (lambda L: L.AveragePooling1D(2), (9, 2)),
    "avgpool2d_same": (lambda L: L.AveragePooling2D(3, strides=2, padding="same"), (7, 8, 2)),
    "gap1d": (lambda L: L.GlobalAveragePooling1D(), (9, 3)),
    "gmp2d": (lambda L: L.GlobalMaxPooling2D(), (5, 4, 3)),
    "dense_3d_input": (lambda L: L.Dense(4, activation="softmax"), (3, 5)),
    "reshape": (lambda L: L.Reshape((4, -1)), (6, 2)),
    "zeropad1d": (lambda L: L.ZeroPadding1D((1, 2)), (5, 3)),
    "zeropad2d": (lambda L: L.ZeroPadding2D(((1, 0), (2, 1))), (4, 3, 2)),
    "upsample1d": (lambda L: L.UpSampling1D(3), (4, 2)),
    "upsample2d": (lambda L: L.UpSampling2D((2, 3)), (3, 2, 2)),
    "relu_layer": (lambda L: L.ReLU(max_value=0.5, negative_slope=0.1, threshold=0.2), (4, 3)),
    "leaky_relu_layer": (lambda L: L.LeakyReLU(), (4, 3)),
    "elu_layer": (lambda L: L.ELU(0.7), (4, 3)),
    "softmax_layer": (lambda L: L.Softmax(), (4, 5)),
    "activation_tanh": (lambda L: L.Activation("tanh"), (4, 3)),
    "batchnorm": (lambda L: L.BatchNormalization(), (5, 3)),
}


@pytest.fixture(scope="module")
def keras():
    return tensorflow_or_skip().keras


def _pair(keras, name, rng):
    make, shape = CASES[name]
    ours = make(convlite.layers)
    theirs = make(keras.layers)
    x = rng.normal(size=(3,) + shape).astype(np.float32)
    y = ours(x)
    theirs.build((None,) + shape)
    weights = [rng.normal(scale=0.5, size=w.shape).astype(np.float32) for w in ours.get_weights()]
    if name == "batchnorm":
        weights[3] = np.abs(weights[3]) + 0.5  # a variance
    ours.set_weights(weights)
    theirs.set_weights(weights)
    return ours, theirs, x, shape


@pytest.mark.tensorflow
@pytest.mark.parametrize("name", sorted(CASES))
def test_layer_forward_matches_keras(keras, name, rng):
    ours, theirs, x, _ = _pair(keras, name, rng)
    expected = np.asarray(theirs(x, training=False))
    got = ours(x)
    assert got.shape == expected.shape == ours.compute_output_shape(x.shape)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)


@pytest.mark.tensorflow
@pytest.mark.parametrize("name", sorted(CASES))
def test_layer_training_step_matches_keras(keras, name, rng):
    """One SGD step of Input -> Dense -> layer -> Flatten -> Dense(1) with MSE: checks the layer's backward
    (input gradient through the first Dense, parameter gradients of the layer itself). Keras's side runs eagerly
    under a GradientTape (no tf.function tracing, so the test stays fast)."""
    tf = tensorflow_or_skip()
    make, shape = CASES[name]
    x = rng.normal(size=(6,) + shape).astype(np.float32)
    models = []
    for lib in (convlite, keras):
        L = lib.layers
        models.append(lib.Sequential([lib.Input(shape), L.Dense(shape[-1], activation="tanh"), make(L), L.Flatten(),
                                      L.Dense(1)]))
    ours, theirs = models
    weights = [rng.normal(scale=0.5, size=w.shape).astype(np.float32) for w in ours.get_weights()]
    if name == "batchnorm":
        weights[-3] = np.abs(weights[-3]) + 0.5
    ours.set_weights(weights)
    theirs.set_weights(weights)
    y = rng.normal(size=(6, 1)).astype(np.float32)
    ours.compile(_sgd(0.1), "mse")
    loss_ours = ours.train_on_batch(x, y)
    with tf.GradientTape() as tape:
        loss_theirs = tf.reduce_mean(tf.square(theirs(x, training=True) - y))
    grads = tape.gradient(loss_theirs, theirs.trainable_weights)
    for var, grad in zip(theirs.trainable_weights, grads):
        var.assign_sub(0.1 * grad)
    np.testing.assert_allclose(loss_ours, float(loss_theirs), rtol=1e-5)
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


def _sgd(lr):
    from convlite import optimizers

    return optimizers.SGD(learning_rate=lr)

"""Layers without TensorFlow: values against float64 numpy references, shapes, config round trips."""
from __future__ import annotations

import numpy as np
import pytest

from convlite import layers
from ref_model import conv2d_ref, pool2d_ref
from parity.layer_cases import ALL_CASES

CASES = {case_id: (make, shape) for case_id, make, shape in ALL_CASES}  # the parity suite's grid


@pytest.mark.parametrize("padding, strides, dilation, expected_pads", [
    ("valid", 1, 1, (0, 0)), ("same", 2, 1, (1, 1)), ("same", 1, 2, (2, 2)), ("causal", 1, 2, (4, 0)),
    ("full", 1, 1, (2, 2)), (((3, 1),), 2, 1, (3, 1)),
])
def test_conv1d_against_reference(rng, padding, strides, dilation, expected_pads):
    x = rng.normal(size=(3, 11, 4)).astype(np.float32)
    layer = layers.Conv1D(5, 3, strides=strides, padding=padding, dilation_rate=dilation, activation="relu")
    y = layer(x)
    kernel, bias = layer.get_weights()
    bias = rng.normal(size=bias.shape).astype(np.float32)
    layer.set_weights([kernel, bias])
    y = layer(x)
    ref = np.maximum(conv2d_ref(x[:, None], kernel[None], bias, (1, strides), (1, dilation),
                                (0, 0) + expected_pads)[:, 0], 0)
    assert y.shape == ref.shape == layer.compute_output_shape(x.shape)
    np.testing.assert_allclose(y, ref, rtol=1e-5, atol=1e-5)


def test_conv2d_and_separable_against_reference(rng):
    x = rng.normal(size=(2, 9, 7, 3)).astype(np.float32)
    conv = layers.Conv2D(4, (3, 2), strides=(2, 1), padding="same")
    y = conv(x)
    kernel, bias = conv.get_weights()
    # same: out (5, 7); pad_h total = (5-1)*2+3-9 = 2 -> (1, 1); pad_w total = 1 -> (0, 1)
    np.testing.assert_allclose(y, conv2d_ref(x, kernel, bias, (2, 1), (1, 1), (1, 1, 0, 1)), rtol=1e-5, atol=1e-5)
    sep = layers.SeparableConv2D(5, 3, depth_multiplier=2)
    y = sep(x)
    dw, pw, bias = sep.get_weights()
    depth = np.concatenate([conv2d_ref(x[..., c:c + 1], dw[:, :, c:c + 1, :], None, (1, 1), (1, 1), (0,) * 4)
                            for c in range(3)], axis=-1)
    np.testing.assert_allclose(y, depth @ pw[0, 0] + bias, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("cls, mode", [(layers.MaxPooling2D, "max"), (layers.AveragePooling2D, "avg")])
def test_pooling_against_reference(rng, cls, mode):
    x = rng.normal(size=(2, 7, 8, 3)).astype(np.float32)
    y = cls(pool_size=3, strides=2, padding="same")(x)  # h: 7 -> 4, pads (1, 1); w: 8 -> 4, pads (0, 1)
    np.testing.assert_allclose(y, pool2d_ref(x, (3, 3), (2, 2), (1, 1, 0, 1), mode), rtol=1e-6, atol=1e-6)


def test_dense_flatten_and_global_pooling(rng):
    x = rng.normal(size=(4, 3, 2, 5)).astype(np.float32)
    np.testing.assert_array_equal(layers.Flatten()(x), x.reshape(4, -1))
    np.testing.assert_allclose(layers.GlobalAveragePooling2D()(x), x.mean(axis=(1, 2)), rtol=1e-6)
    np.testing.assert_array_equal(layers.GlobalMaxPooling2D(keepdims=True)(x).shape, (4, 1, 1, 5))
    dense = layers.Dense(3, activation="leaky_relu")
    y = dense(x)
    kernel, bias = dense.get_weights()
    z = x.astype(np.float64) @ kernel + bias
    np.testing.assert_allclose(y, np.where(z > 0, z, 0.2 * z), rtol=1e-5, atol=1e-6)
    assert layers.LeakyReLU().negative_slope == 0.3


def test_zero_padding_and_upsampling(rng):
    x = rng.normal(size=(2, 3, 4, 2)).astype(np.float32)
    np.testing.assert_array_equal(layers.ZeroPadding2D(((1, 2), (0, 1)))(x),
                                  np.pad(x, ((0, 0), (1, 2), (0, 1), (0, 0))))
    np.testing.assert_array_equal(layers.UpSampling2D((2, 3))(x), x.repeat(2, axis=1).repeat(3, axis=2))
    x1 = x[:, 0]
    np.testing.assert_array_equal(layers.UpSampling1D(2)(x1), x1.repeat(2, axis=1))
    np.testing.assert_array_equal(layers.ZeroPadding1D(2)(x1), np.pad(x1, ((0, 0), (2, 2), (0, 0))))


@pytest.mark.parametrize("name", sorted(CASES))
def test_config_round_trip_gives_the_same_layer(rng, name):
    make, shape = CASES[name]
    layer = make(layers)
    x = rng.normal(size=(2,) + shape).astype(np.float32)
    y = layer(x)
    config = layer.get_config()
    clone = type(layer).from_config(config)
    clone(x)
    clone.set_weights(layer.get_weights())
    np.testing.assert_array_equal(clone(x), y)
    assert {k: v for k, v in clone.get_config().items() if k != "name"} == \
        {k: v for k, v in config.items() if k != "name"}


def test_aliases_and_names():
    assert layers.Convolution2D is layers.Conv2D and layers.MaxPool2D is layers.MaxPooling2D
    assert layers.AvgPool1D is layers.AveragePooling1D and layers.SeparableConvolution1D is layers.SeparableConv1D
    first, second = layers.DepthwiseConv2D(3), layers.DepthwiseConv2D(3)
    assert first.name.startswith("depthwise_conv2d") and second.name != first.name
    assert layers.LeakyReLU().name.startswith("leaky_re_lu")

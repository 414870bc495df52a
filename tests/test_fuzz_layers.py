"""Fuzzing convlite.layers through Sequential: random constructor arguments (valid and hostile), input shapes (0, 1,
primes) and input arrays (dtypes, layouts). Each case either raises ValueError/TypeError whose message contains
"Received" (at construction, build or predict) or predicts an output of the declared shape that, for convolution and
pooling layers, equals convlite.nn on the layer's own weights (nn is fuzzed against float64 references)."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import convlite
import convlite.nn as nn
from convlite import layers
import strategies as S


@pytest.fixture(autouse=True, scope="module")
def _fuzz_report(request):
    S.install_report(request.config)


_SMALL = st.sampled_from([1, 1, 2, 3, 5])
_ODD = st.sampled_from([0, -1, 1.5, "2", None, (1, 2, 3), True, 2**70, (2, 0)])
_PADDING = st.sampled_from(["valid", "same", "VALID", "causal", "full", "bogus", 3, None])
_ACT = st.sampled_from([None, "linear", "relu", "tanh", "softmax", "nope", 3])


@st.composite
def _layer(draw):
    """(layer class name, constructor kwargs, input rank) with mostly valid and sometimes hostile arguments."""
    name = draw(st.sampled_from(["Conv1D", "Conv2D", "DepthwiseConv1D", "DepthwiseConv2D", "SeparableConv1D",
                                 "SeparableConv2D", "MaxPooling1D", "MaxPooling2D", "AveragePooling1D",
                                 "AveragePooling2D", "GlobalMaxPooling2D", "GlobalAveragePooling1D", "Dense",
                                 "Flatten", "ZeroPadding2D", "UpSampling2D", "UpSampling1D", "Activation",
                                 "LeakyReLU", "ReLU", "Softmax", "Dropout", "BatchNormalization", "Reshape"]))
    odd = lambda valid: draw(_ODD) if draw(st.integers(0, 7)) == 0 else draw(valid)  # noqa: E731
    rank = 1 if name.endswith("1D") else 2
    kw = {}
    if "Conv" in name:
        kw["kernel_size"] = odd(_SMALL)
        kw["strides"] = odd(st.sampled_from([1, 1, 2, 3]))
        kw["padding"] = draw(_PADDING) if draw(st.integers(0, 3)) == 0 else draw(st.sampled_from(["valid", "same"]))
        kw["dilation_rate"] = odd(st.sampled_from([1, 1, 2]))
        if not name.startswith("Depthwise"):
            kw["filters"] = odd(st.sampled_from([1, 2, 4]))
        else:
            kw["depth_multiplier"] = odd(st.sampled_from([1, 2]))
        kw["activation"] = draw(_ACT) if draw(st.integers(0, 4)) == 0 else None
        kw["use_bias"] = draw(st.booleans())
    elif "Global" in name:
        rank = 1 if name.endswith("1D") else 2
    elif "Pooling" in name:
        kw["pool_size"] = odd(_SMALL)
        kw["strides"] = draw(st.sampled_from([None, 1, 2, 3])) if draw(st.integers(0, 7)) else draw(_ODD)
        kw["padding"] = draw(st.sampled_from(["valid", "same"])) if draw(st.integers(0, 7)) else draw(_PADDING)
    elif name == "Dense":
        kw["units"] = odd(st.sampled_from([1, 3, 7]))
        kw["activation"] = draw(_ACT)
        rank = draw(st.sampled_from([0, 1, 2]))
    elif name == "ZeroPadding2D":
        kw["padding"] = odd(st.sampled_from([0, 1, 2, ((1, 0), (0, 2))]))
    elif name.startswith("UpSampling"):
        kw["size"] = odd(st.sampled_from([1, 2, 3]))
    elif name == "Activation":
        kw["activation"] = draw(_ACT)
    elif name == "LeakyReLU":
        kw["negative_slope"] = draw(st.sampled_from([0.3, 0.0, 1.0, -1.0, float("nan"), "x"]))
    elif name == "Dropout":
        kw["rate"] = draw(st.sampled_from([0.0, 0.5, 0.99, 1.0, -0.1, float("nan"), "x"]))
    elif name == "Reshape":
        kw["target_shape"] = draw(st.sampled_from([(-1,), (2, -1), (-1, -1), (0,), (7,), "x"]))
    return name, kw, rank


def _clean(err):
    assert "Received" in str(err), f"{type(err).__name__}: {err}"


def _nn_reference(layer, x):
    """The layer's output computed with convlite.nn on its weights, for the layers nn covers; else None."""
    cfg = layer.get_config()
    name = type(layer).__name__
    if cfg.get("activation", "linear") != "linear" or name.startswith("Separable"):
        return None
    w = layer.get_weights()
    if name in ("Conv1D", "Conv2D") and cfg.get("groups", 1) == 1 and cfg["padding"] in ("valid", "same"):
        fn = nn.conv1d if name == "Conv1D" else nn.conv2d
        y = fn(x, w[0], list(cfg["strides"]), cfg["padding"].upper(), dilations=list(cfg["dilation_rate"]))
    elif name == "DepthwiseConv2D" and cfg["padding"] in ("valid", "same"):
        y = nn.depthwise_conv2d(x, w[0], list(cfg["strides"]), cfg["padding"].upper(),
                                dilations=list(cfg["dilation_rate"]))
    elif name in ("MaxPooling2D", "AveragePooling2D", "MaxPooling1D", "AveragePooling1D"):
        fn = {"MaxPooling2D": nn.max_pool2d, "AveragePooling2D": nn.avg_pool2d, "MaxPooling1D": nn.max_pool1d,
              "AveragePooling1D": nn.avg_pool1d}[name]
        return fn(x, list(cfg["pool_size"]), list(cfg["strides"]), cfg["padding"].upper())
    else:
        return None
    return y + w[1] if len(w) > 1 else y


@S.fuzz(900)
@given(st.data())
def test_layer_in_sequential(data):
    S.record("layers")
    draw = data.draw
    name, kw, rank = draw(_layer())
    shape = tuple(draw(st.sampled_from([0, 1, 1, 2, 3, 5, 7, 8])) for _ in range(rank)) + (draw(S.channel_counts),)
    try:
        layer = getattr(layers, name)(**kw)
    except (ValueError, TypeError) as err:
        return _clean(err)
    try:
        model = convlite.Sequential([layers.Input(shape), layer])
        model.compile("sgd", "mse")
        out_shape = model.output_shape
    except (ValueError, TypeError) as err:
        return _clean(err)
    batch = draw(st.sampled_from([1, 2, 3]))
    x, x64 = draw(S.float_arrays((batch,) + shape))
    try:
        y = model.predict(x, verbose=0)
    except (ValueError, TypeError) as err:
        return _clean(err)
    assert y.dtype == np.float32 and y.shape == (batch,) + tuple(out_shape[1:])
    if y.size and name not in ("Dropout",):
        assert np.isfinite(y).all() or name in ("Activation",)
        ref = _nn_reference(layer, x64.astype(np.float32))
        if ref is not None:
            np.testing.assert_allclose(y, ref, rtol=1e-5, atol=1e-5)
    if y.size and draw(st.integers(0, 3)) == 0:  # one training step on the same shapes must also be clean
        model.train_on_batch(np.asarray(x, np.float32), np.zeros_like(y))

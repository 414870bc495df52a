"""Sizes whose products overflow (or cannot be allocated) are caught before allocation with a clear ValueError or
MemoryError: huge batch/spatial dims through zero-stride arrays, huge paddings, strides, dilations and filters, and
huge layer shapes. None of these cases may allocate more than a few bytes or run for long."""
from __future__ import annotations

import numpy as np
import pytest

import convlite
import convlite.nn as nn
from convlite import _core, layers

HUGE = 2**40


def _huge(shape):
    """A float32 array of the given (gigantic) shape backed by one element: zero strides."""
    return np.lib.stride_tricks.as_strided(np.zeros(1, np.float32), shape, (0,) * len(shape))


def _clean(call, allow_memory=True):
    errors = (ValueError, MemoryError) if allow_memory else (ValueError,)
    with pytest.raises(errors) as info:
        call()
    assert str(info.value), "an error without a message"
    return info.value


X = np.ones((1, 4, 4, 2), np.float32)
K = np.ones((3, 3, 2, 2), np.float32)


@pytest.mark.parametrize("call", [
    lambda: nn.conv2d(_huge((HUGE, HUGE, 1, 1)), np.ones((1, 1, 1, 1), np.float32), 1, "VALID"),
    lambda: nn.conv2d(_huge((2**21, 2**21, 2**21, 1)), np.ones((1, 1, 1, 1), np.float32), 1, "VALID"),
    lambda: nn.conv2d(X, _huge((1, 1, 2, HUGE)), 1, "VALID"),
    lambda: nn.depthwise_conv2d(X, _huge((1, 1, 2, HUGE)), 1, "VALID"),
    lambda: nn.conv1d(_huge((HUGE, HUGE, 1)), np.ones((1, 1, 1), np.float32), 1, "VALID"),
    lambda: nn.max_pool2d(_huge((HUGE, HUGE, 1, 1)), 1, 1, "VALID"),
    lambda: nn.avg_pool1d(_huge((HUGE, 2**20, 4)), 2, 2, "SAME"),
    lambda: nn.relu(_huge((HUGE, HUGE))),
    lambda: nn.softmax(_huge((HUGE, 3))),
    lambda: nn.bias_add(_huge((HUGE, 4)), np.ones(4)),
])
def test_huge_inputs_are_refused_before_allocation(call):
    _clean(call)


@pytest.mark.parametrize("call", [
    # the output (not the input) would overflow: 2 * 2**40 pads on both axes
    lambda: nn.conv2d(X, K, 1, [[0, 0], [HUGE, HUGE], [HUGE, HUGE], [0, 0]]),
    lambda: nn.depthwise_conv2d(X, K[..., :1], 1, [[0, 0], [HUGE, HUGE], [HUGE, HUGE], [0, 0]]),
    lambda: _core.conv2d(X, K, None, (1, 1), (1, 1), (2**62, 2**62, 0, 0)),
    lambda: _core.max_pool2d(X, (2**31 - 1, 2**31 - 1), (1, 1), (2**31 - 2,) * 4),
    lambda: _core.avg_pool2d(X, (2**31 - 1, 2**31 - 1), (1, 1), (2**31 - 2,) * 4),
    lambda: _core.zero_pad2d(X, (2**31 - 1,) * 4),
    lambda: _core.upsample2d(X, (2**31 - 1, 2**31 - 1)),
    lambda: _core.sgemm(_huge((HUGE, 1)), _huge((1, HUGE))),
    lambda: _core.dense(np.ones((2, 3), np.float32), _huge((3, 2**62))),
    lambda: _core.max_pool2d_backward(np.zeros((1, 1, 1, 1), np.int32), np.zeros((1, 1, 1, 1), np.float32),
                                      (2**62, 2**62, 1, 1)),
    lambda: _core.global_pool_backward(np.zeros((1, 1), np.float32), (1, 2**62, 1), "avg"),
])
def test_outputs_whose_size_overflows_are_refused(call):
    _clean(call)


@pytest.mark.parametrize("call", [
    # a 2**40 dilation or stride must not overflow the geometry arithmetic
    lambda: nn.conv2d(X, K, 1, "SAME", dilations=HUGE),
    lambda: nn.conv2d(X, K, 2**62, "SAME"),
    lambda: nn.conv2d(X, K, 1, "VALID", dilations=2**62),
    lambda: nn.max_pool2d(X, 2**62, 1, "SAME"),
    lambda: nn.avg_pool2d(X, 2, 2**62, "VALID"),
    lambda: _core.conv2d(X, K, None, (2**63 - 1, 1), (1, 1), (0, 0, 0, 0)),
    lambda: _core.depthwise2d(X, K[..., :1], None, (1, 1), (2**62, 2**62), (0, 0, 0, 0)),
])
def test_huge_strides_and_dilations(call):
    try:
        y = call()
    except ValueError as err:
        assert "Received" in str(err)
    else:  # a huge stride with SAME padding is legal: one output position
        assert y.size <= 64


def test_empty_outputs_with_huge_sizes_return_at_once():
    """Zero channels or batch with gigantic spatial sizes: nothing to compute, so no kernel may walk 2**41 rows."""
    pad = [[0, 0], [HUGE, HUGE], [0, 0], [0, 0]]
    assert nn.depthwise_conv2d(np.zeros((1, 5, 5, 0), np.float32), np.zeros((3, 3, 0, 1), np.float32), 1,
                               pad).shape == (1, 2 * HUGE + 3, 3, 0)
    assert nn.conv2d(X[:0], K, 1, pad).shape == (0, 2 * HUGE + 2, 2, 2)
    dx, dw, db = _core.conv2d_backward(X, K[..., :0], None, np.zeros((1, 2 * HUGE + 2, 2, 0), np.float32),
                                       (1, 1), (1, 1), (HUGE, HUGE, 0, 0))
    assert not dx.any() and dw.shape == (3, 3, 2, 0) and db.shape == (0,)
    assert _core.max_pool2d(np.zeros((1, 2**16, 2**14, 0), np.float32), (1, 1)).shape == (1, 2**16, 2**14, 0)
    assert _core.zero_pad2d(np.zeros((1, HUGE, 5, 0), np.float32), (1, 1, 1, 1)).shape == (1, HUGE + 2, 7, 0)
    assert _core.global_pool(np.zeros((1, 2**30, 0), np.float32), "max").shape == (1, 0)


@pytest.mark.parametrize("build", [
    lambda: [layers.Input((HUGE, HUGE, 3)), layers.Conv2D(4, 3)],
    lambda: [layers.Input((2**31 - 1, 2**31 - 1, 2**31 - 1)), layers.Flatten(), layers.Dense(2)],
    lambda: [layers.Input((8, 8, 3)), layers.Conv2D(2**31 - 1, 3)],
    lambda: [layers.Input((8, 8, 3)), layers.Flatten(), layers.Dense(2**40)],
    lambda: [layers.Input((8, 8, 3)), layers.UpSampling2D((2**30, 2**30))],
    lambda: [layers.Input((8, 8, 3)), layers.ZeroPadding2D(2**30)],
    lambda: [layers.Input((8, 8, 3)), layers.Conv2D(2, 3, dilation_rate=2**30, padding="same")],
])
def test_layers_with_huge_shapes_fail_cleanly(build):
    """Building (and predicting with) a model whose sizes cannot exist: ValueError or MemoryError, no crash."""
    try:
        model = convlite.Sequential(build())
        model.compile("sgd", "mse")
        model.predict(np.zeros((1,) + tuple(model.input_shape[1:]), np.float32) if
                      np.prod(model.input_shape[1:], dtype=object) < 2**20 else _huge((1,) + model.input_shape[1:]),
                      verbose=0)
    except (ValueError, MemoryError) as err:
        assert str(err)

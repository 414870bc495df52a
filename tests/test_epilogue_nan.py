"""A NaN reaching a fused relu epilogue stays NaN, as tf.nn.relu and our standalone relu keep it: otherwise a NaN
in the data vanishes inside a conv layer and TerminateOnNaN never fires."""
import numpy as np
import pytest

from convlite import _core


def nan_input(shape):
    x = np.ones(shape, np.float32)
    x.flat[0] = np.nan
    return x


@pytest.mark.parametrize("activation", ["relu", "leaky_relu"])
def test_conv2d_epilogue_keeps_nan(each_isa, activation):
    x = nan_input((1, 5, 7, 3))
    w = -np.ones((3, 3, 3, 17), np.float32)  # negative outputs elsewhere, so a NaN cannot hide behind 0
    y = _core.conv2d(x, w, None, strides=(1, 1), dilations=(1, 1), padding=(1, 1, 1, 1), groups=1,
                     activation=activation, negative_slope=0.2 if activation == "leaky_relu" else 0.0)
    assert np.isnan(y[0, 0, 0]).all() and np.isnan(y[0, 1, 1]).all()
    assert not np.isnan(y[0, 4, 6]).any()


def test_dense_epilogue_keeps_nan(each_isa):
    x = nan_input((3, 9))
    w = -np.ones((9, 20), np.float32)
    y = _core.dense(x, w, None, activation="relu")
    assert np.isnan(y[0]).all() and (y[1:] == 0).all()


def test_depthwise_epilogue_keeps_nan(each_isa):
    x = nan_input((1, 4, 4, 19))
    w = -np.ones((3, 3, 19, 1), np.float32)
    y = _core.depthwise2d(x, w, None, strides=(1, 1), dilations=(1, 1), padding=(1, 1, 1, 1), activation="relu")
    assert np.isnan(y[0, 0, 0, 0]) and np.isnan(y[0, 1, 1, 0]) and not np.isnan(y[0, 3, 3]).any()

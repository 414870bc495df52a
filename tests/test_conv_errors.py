"""Bad input to the conv bindings is a Keras-style ValueError/TypeError naming what was received, never a crash."""
import numpy as np
import pytest

from convlite import _core


def conv(x_shape=(1, 5, 5, 4), w_shape=(3, 3, 4, 2), **kw):
    return _core.conv2d(np.zeros(x_shape, np.float32), np.zeros(w_shape, np.float32), **kw)


@pytest.mark.parametrize("kwargs,text", [
    (dict(w_shape=(3, 3, 3, 2)), r"x.shape=\(1, 5, 5, 4\), w.shape=\(3, 3, 3, 2\)"),
    (dict(w_shape=(3, 3, 2, 3), groups=2), r"filters=3, groups=2"),
    (dict(x_shape=(1, 5, 5, 5), w_shape=(3, 3, 1, 4), groups=2), r"input channels=5, groups=2"),
    (dict(groups=0), r"groups=0"),
    (dict(strides=(0, 1)), r"strides=\(0, 1\)"),
    (dict(strides=(1, -2)), r"strides=\(1, -2\)"),
    (dict(dilations=(1, 0)), r"dilations=\(1, 0\)"),
    (dict(padding=(0, -1, 0, 0)), r"padding=\(0, -1, 0, 0\)"),
    (dict(w_shape=(6, 3, 4, 2)), r"larger than the padded input"),
    (dict(dilations=(3, 1)), r"dilations=\(3, 1\)"),
    (dict(x_shape=(1, 5, 5)), r"x.shape=\(1, 5, 5\)"),
    (dict(w_shape=(3, 3, 4)), r"w.shape=\(3, 3, 4\)"),
    (dict(activation="tanh"), r"activation='tanh'"),
    (dict(activation="leaky_relu", negative_slope=-0.5), r"negative_slope=-0.5"),
    (dict(padding=(2**62, 0, 0, 0)), r"padding="),
    (dict(strides=(2**62, 1)), r"strides="),
])
def test_conv2d_value_errors(kwargs, text):
    with pytest.raises(ValueError, match=text):
        conv(**kwargs)


def test_overflowing_sizes_are_value_errors():
    one = np.zeros((1, 1, 1, 1), np.float32)
    with pytest.raises(ValueError, match=r"overflows int64. Received: output shape=\(1, 1099511627777"):
        _core.conv2d(one, one, padding=(2**39, 2**39, 2**39, 2**39))
    with pytest.raises(ValueError, match="padding="):
        _core.conv2d(one, one, padding=(2**41, 0, 0, 0))


def test_bias_and_dtype_errors():
    with pytest.raises(ValueError, match=r"bias.shape=\(3,\)"):
        conv(bias=np.zeros(3, np.float32))
    with pytest.raises(TypeError, match="float64"):
        _core.conv2d(np.zeros((1, 5, 5, 4)), np.zeros((3, 3, 4, 2), np.float32))


def test_backward_checks_dy_and_y():
    x, w = np.zeros((1, 5, 5, 4), np.float32), np.zeros((3, 3, 4, 2), np.float32)
    with pytest.raises(ValueError, match=r"dy.shape=\(1, 5, 5, 2\)"):
        _core.conv2d_backward(x, w, None, np.zeros((1, 5, 5, 2), np.float32))
    with pytest.raises(ValueError, match="y=None"):
        _core.conv2d_backward(x, w, None, np.zeros((1, 3, 3, 2), np.float32), activation="relu")
    with pytest.raises(ValueError, match=r"y.shape=\(1, 3, 3, 3\)"):
        _core.conv2d_backward(x, w, np.zeros((1, 3, 3, 3), np.float32), np.zeros((1, 3, 3, 2), np.float32),
                              activation="relu")


def test_empty_batch_gives_empty_outputs():
    x = np.zeros((0, 5, 5, 4), np.float32)
    w = np.ones((3, 3, 4, 2), np.float32)
    y = _core.conv2d(x, w, np.ones(2, np.float32), padding=(1, 1, 1, 1))
    assert y.shape == (0, 5, 5, 2)
    dx, dw, db = _core.conv2d_backward(x, w, None, y, padding=(1, 1, 1, 1))
    assert dx.shape == x.shape
    np.testing.assert_array_equal(dw, np.zeros_like(w))
    np.testing.assert_array_equal(db, np.zeros(2, np.float32))

"""Parity with TensorFlow: tf.nn.conv1d / conv2d / depthwise_conv2d / separable_conv2d and their GradientTape
gradients, through convlite's tf.nn-shaped wrappers and the _core backward ops."""
import numpy as np
import pytest

from convlite import _core
from convlite import _nn_conv as nn

from helpers import tensorflow_or_skip

pytestmark = pytest.mark.tensorflow

TOL = dict(rtol=2e-5, atol=2e-5)


def explicit(padding, rank):
    """tf's explicit list from (top, bottom, left, right)."""
    pairs = [[padding[0], padding[1]], [padding[2], padding[3]]][-rank:]
    return [[0, 0], *pairs, [0, 0]]


def tf_grads(tf, fn, x, w, dy):
    xt, wt = tf.constant(x), tf.constant(w)
    with tf.GradientTape() as tape:
        tape.watch([xt, wt])
        yt = fn(xt, wt)
    dx, dw = tape.gradient(yt, [xt, wt], output_gradients=tf.constant(dy))
    return yt.numpy(), dx.numpy(), dw.numpy()


@pytest.mark.parametrize("h,w,c,f,k,strides,dilations,padding", [
    (9, 11, 3, 5, 3, 1, 1, "SAME"),
    (10, 9, 4, 6, 3, 2, 1, "SAME"),
    (12, 11, 1, 16, 5, 1, 2, "VALID"),
    (13, 12, 6, 4, 2, (2, 3), 1, "VALID"),
    (7, 9, 5, 3, 3, 1, 1, (2, 0, 1, 3)),
    (12, 12, 8, 8, 3, 3, 1, "SAME"),
])
def test_conv2d_matches_tf(rng, h, w, c, f, k, strides, dilations, padding):
    tf = tensorflow_or_skip()
    x = rng.standard_normal((2, h, w, c)).astype(np.float32)
    kern = rng.standard_normal((k, k, c, f)).astype(np.float32)
    tf_pad = explicit(padding, 2) if isinstance(padding, tuple) else padding
    if dilations == 1:
        fn = lambda a, b: tf.nn.conv2d(a, b, strides, tf_pad)
    else:  # TF's CPU Conv2D has no dilated gradient; tf.nn.convolution goes through space_to_batch
        fn = lambda a, b: tf.nn.convolution(a, b, strides, tf_pad, dilations=dilations)
    y_tf = fn(x, kern).numpy()
    dy = rng.standard_normal(y_tf.shape).astype(np.float32)
    y_tf, dx_tf, dw_tf = tf_grads(tf, fn, x, kern, dy)
    y = nn.conv2d(x, kern, strides, tf_pad, dilations=dilations)
    np.testing.assert_allclose(y, y_tf, **TOL)
    st = nn._spatial(strides, "strides", 2)
    dl = nn._spatial(dilations, "dilations", 2)
    pads = nn._pads(tf_pad, x.shape[1:3], kern.shape[:2], st, dl)
    dx, dw, _ = _core.conv2d_backward(x, kern, None, dy, st, dl, pads, 1, False, True)
    np.testing.assert_allclose(dx, dx_tf, **TOL)
    np.testing.assert_allclose(dw, dw_tf, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("n,c,f,k,stride,dilation,padding", [
    (100, 1, 16, 3, 1, 1, "VALID"),   # the ECG model's first Conv1D
    (98, 16, 8, 3, 1, 1, "VALID"),    # and its second
    (37, 4, 6, 5, 2, 1, "SAME"),
    (40, 3, 5, 3, 1, 3, "SAME"),
])
def test_conv1d_matches_tf(rng, n, c, f, k, stride, dilation, padding):
    tf = tensorflow_or_skip()
    x = rng.standard_normal((3, n, c)).astype(np.float32)
    kern = rng.standard_normal((k, c, f)).astype(np.float32)
    fn = lambda a, b: tf.nn.convolution(a, b, stride, padding, dilations=dilation)
    y_tf = fn(x, kern).numpy()
    dy = rng.standard_normal(y_tf.shape).astype(np.float32)
    y_tf, dx_tf, dw_tf = tf_grads(tf, fn, x, kern, dy)
    if dilation == 1:
        np.testing.assert_allclose(tf.nn.conv1d(x, kern, stride, padding).numpy(), y_tf, **TOL)
    np.testing.assert_allclose(nn.conv1d(x, kern, stride, padding, dilations=dilation), y_tf, **TOL)
    pads = nn._pads(padding, x.shape[1:2], kern.shape[:1], (stride,), (dilation,))
    dx, dw, _ = _core.conv2d_backward(x[:, None], kern[None], None, dy[:, None], (1, stride), (1, dilation), pads,
                                      1, False, True)
    np.testing.assert_allclose(dx[:, 0], dx_tf, **TOL)
    np.testing.assert_allclose(dw[0], dw_tf, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("c,dm,k,strides,dilations,padding", [
    (3, 1, 3, 1, 1, "SAME"),
    (17, 2, 3, 2, 1, "SAME"),
    (8, 3, 5, 1, 2, "VALID"),
])
def test_depthwise_conv2d_matches_tf(rng, c, dm, k, strides, dilations, padding):
    tf = tensorflow_or_skip()
    x = rng.standard_normal((2, 11, 10, c)).astype(np.float32)
    kern = rng.standard_normal((k, k, c, dm)).astype(np.float32)
    st4 = [1, strides, strides, 1]
    fn = lambda a, b: tf.nn.depthwise_conv2d(a, b, st4, padding, dilations=[dilations, dilations])
    y_tf = fn(x, kern).numpy()
    dy = rng.standard_normal(y_tf.shape).astype(np.float32)
    y_tf, dx_tf, dw_tf = tf_grads(tf, fn, x, kern, dy)
    np.testing.assert_allclose(nn.depthwise_conv2d(x, kern, st4, padding, dilations=[dilations] * 2), y_tf, **TOL)
    st, dl = (strides, strides), (dilations, dilations)
    pads = nn._pads(padding, x.shape[1:3], kern.shape[:2], st, dl)
    dx, dw, _ = _core.depthwise2d_backward(x, kern, None, dy, st, dl, pads, False, True)
    np.testing.assert_allclose(dx, dx_tf, **TOL)
    np.testing.assert_allclose(dw, dw_tf, rtol=1e-4, atol=1e-4)


def test_separable_conv2d_matches_tf(rng):
    tf = tensorflow_or_skip()
    x = rng.standard_normal((2, 9, 8, 4)).astype(np.float32)
    dw = rng.standard_normal((3, 3, 4, 2)).astype(np.float32)
    pw = rng.standard_normal((1, 1, 8, 5)).astype(np.float32)
    want = tf.nn.separable_conv2d(x, dw, pw, [1, 1, 1, 1], "SAME").numpy()
    np.testing.assert_allclose(nn.separable_conv2d(x, dw, pw, [1, 1, 1, 1], "SAME"), want, **TOL)


def test_bias_add_matches_tf(rng):
    tf = tensorflow_or_skip()
    v = rng.standard_normal((2, 3, 5)).astype(np.float32)
    b = rng.standard_normal(5).astype(np.float32)
    np.testing.assert_allclose(nn.bias_add(v, b), tf.nn.bias_add(v, b).numpy())

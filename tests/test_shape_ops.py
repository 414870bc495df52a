"""Zero padding and nearest upsampling, forward and backward: numpy reference, adjoint identity, threads, errors,
Keras parity (ZeroPadding2D, UpSampling2D) with gradients."""
import numpy as np
import pytest

from convlite import _core

from helpers import tensorflow_or_skip, using_threads
import ref_pool as ref


@pytest.mark.parametrize("shape, pads", [((2, 3, 4, 5), (1, 2, 0, 3)), ((1, 1, 1, 1), (0, 0, 0, 0)),
                                         ((3, 5, 2, 17), (2, 0, 1, 1))])
def test_zero_pad_and_its_backward(rng, shape, pads):
    x = rng.standard_normal(shape).astype(np.float32)
    y = _core.zero_pad2d(x, pads)
    np.testing.assert_array_equal(y, ref.zero_pad2d(x, pads))
    dy = rng.standard_normal(y.shape).astype(np.float32)
    t, b, l, r = pads
    np.testing.assert_array_equal(_core.zero_pad2d_backward(dy, pads), dy[:, t:t + shape[1], l:l + shape[2], :])


@pytest.mark.parametrize("shape, size", [((2, 3, 4, 5), (2, 2)), ((1, 2, 3, 1), (1, 3)), ((2, 1, 5, 9), (3, 1))])
def test_upsample_and_its_backward(rng, shape, size):
    x = rng.standard_normal(shape).astype(np.float32)
    y = _core.upsample2d(x, size)
    np.testing.assert_array_equal(y, ref.upsample2d(x, size))
    dy = rng.standard_normal(y.shape).astype(np.float32)
    dx = _core.upsample2d_backward(dy, size)
    np.testing.assert_allclose(dx, ref.upsample2d_backward(dy, size), rtol=1e-6, atol=1e-6)
    # Adjoint: <dy, up(x)> == <down(dy), x>
    np.testing.assert_allclose(np.sum(dy.astype(np.float64) * y), np.sum(dx.astype(np.float64) * x), rtol=1e-5)


def test_threads_give_identical_results(rng):
    x = rng.standard_normal((4, 40, 40, 16)).astype(np.float32)
    dy = rng.standard_normal((4, 80, 120, 16)).astype(np.float32)
    results = []
    for n in (1, 2):
        with using_threads(n):
            results.append((_core.zero_pad2d(x, (1, 2, 3, 4)), _core.upsample2d(x, (2, 3)),
                            _core.upsample2d_backward(dy, (2, 3)), _core.zero_pad2d_backward(dy, (1, 2, 3, 4))))
    for a, b in zip(*results):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("call, text", [
    (lambda x: _core.zero_pad2d(x, (1, -1, 0, 0)), "padding=(1, -1, 0, 0)"),
    (lambda x: _core.zero_pad2d_backward(x, (3, 2, 0, 0)), "padding=(3, 2, 0, 0)"),
    (lambda x: _core.upsample2d(x, (0, 2)), "size=(0, 2)"),
    (lambda x: _core.upsample2d_backward(x, (3, 1)), "size=(3, 1)"),
    (lambda x: _core.upsample2d(x[0], 2), "x.shape=(4, 4, 3)"),
])
def test_errors_name_the_received_value(call, text):
    with pytest.raises(ValueError, match="Received") as info:
        call(np.zeros((1, 4, 4, 3), np.float32))
    assert text in str(info.value)


@pytest.mark.tensorflow
def test_matches_keras_layers_with_gradients(rng):
    tf = tensorflow_or_skip()
    import keras

    x = rng.standard_normal((2, 3, 5, 4)).astype(np.float32)
    xt = tf.constant(x)
    for layer, fwd, bwd in [
        (keras.layers.ZeroPadding2D(((1, 2), (0, 3))), lambda a: _core.zero_pad2d(a, (1, 2, 0, 3)),
         lambda g: _core.zero_pad2d_backward(g, (1, 2, 0, 3))),
        (keras.layers.UpSampling2D((2, 3)), lambda a: _core.upsample2d(a, (2, 3)),
         lambda g: _core.upsample2d_backward(g, (2, 3))),
    ]:
        with tf.GradientTape() as tape:
            tape.watch(xt)
            yt = layer(xt)
        dy = rng.standard_normal(yt.shape).astype(np.float32)
        gt = tape.gradient(yt, xt, output_gradients=tf.constant(dy)).numpy()
        np.testing.assert_array_equal(fwd(x), yt.numpy())
        np.testing.assert_allclose(bwd(dy), gt, rtol=1e-6, atol=1e-6)

"""convlite's tf.nn-shaped pooling and activation wrappers against tf.nn itself (and numpy where TF is absent)."""
import numpy as np
import pytest

from convlite import _nn_activation as nn_act
from convlite import _nn_pool as nn_pool

from helpers import tensorflow_or_skip
import ref_pool as ref

POOL_CASES = [  # (fn name, input shape, ksize, strides, padding)
    ("max_pool2d", (2, 7, 6, 3), 2, 2, "SAME"),
    ("max_pool2d", (1, 7, 7, 5), [3, 2], [2, 1], "VALID"),
    ("max_pool2d", (1, 6, 6, 2), [1, 3, 3, 1], [1, 2, 2, 1], "same"),
    ("avg_pool2d", (2, 7, 6, 3), 3, 2, "SAME"),
    ("avg_pool2d", (1, 5, 8, 4), [2, 3], 1, "VALID"),
    ("max_pool1d", (2, 11, 3), 3, 2, "SAME"),
    ("avg_pool1d", (2, 11, 3), [2], [1], "VALID"),
    ("avg_pool1d", (1, 10, 9), 3, 3, "SAME"),
]


def test_pool_matches_numpy_reference(rng):
    x = rng.standard_normal((2, 7, 6, 3)).astype(np.float32)
    pads = ref.same_padding(7, 3, 2) + ref.same_padding(6, 3, 2)
    np.testing.assert_allclose(nn_pool.avg_pool2d(x, 3, 2, "SAME"), ref.avg_pool2d(x, (3, 3), (2, 2), pads),
                               rtol=1e-6, atol=1e-6)
    y1 = nn_pool.max_pool1d(x[:, 0], 2, 2, [[0, 0], [1, 1], [0, 0]])
    np.testing.assert_array_equal(y1, ref.max_pool2d(x[:, :1], (1, 2), (1, 2), (0, 0, 1, 1))[0][:, 0])


def test_pool_defaults_and_errors(rng):
    x = rng.standard_normal((1, 5, 5, 2)).astype(np.float32)
    np.testing.assert_array_equal(nn_pool.pool(x, [2, 2], "MAX"), nn_pool.max_pool2d(x, 2, 1, "VALID"))
    with pytest.raises(ValueError, match=r"strides=\[3, 3\]"):
        nn_pool.pool(x, [2, 2], "MAX", strides=[3, 3])
    with pytest.raises(ValueError, match="pooling_type='MIN'"):
        nn_pool.pool(x, [2, 2], "MIN")
    with pytest.raises(ValueError, match=r"dilations=\[2, 2\]"):
        nn_pool.pool(x, [2, 2], "AVG", dilations=[2, 2])
    with pytest.raises(ValueError, match="data_format='NCHW'"):
        nn_pool.max_pool2d(x, 2, 2, "VALID", data_format="NCHW")
    with pytest.raises(ValueError, match="padding='FULL'"):
        nn_pool.max_pool2d(x, 2, 2, "FULL")
    with pytest.raises(ValueError, match=r"input.shape=\(5, 5, 2\)"):
        nn_pool.max_pool2d(x[0], 2, 2, "VALID")
    with pytest.raises(ValueError, match=r"ksize=\[2, 2, 2, 1\]"):
        nn_pool.max_pool2d(x, [2, 2, 2, 1], 2, "VALID")


@pytest.mark.tensorflow
@pytest.mark.parametrize("fn, shape, ksize, strides, padding", POOL_CASES, ids=str)
def test_pool_wrappers_match_tf_nn(rng, fn, shape, ksize, strides, padding):
    tf = tensorflow_or_skip()
    x = rng.standard_normal(shape).astype(np.float32)
    expected = getattr(tf.nn, fn)(x, ksize, strides, padding.upper()).numpy()
    np.testing.assert_allclose(getattr(nn_pool, fn)(x, ksize, strides, padding), expected, rtol=1e-6, atol=1e-6)


@pytest.mark.tensorflow
@pytest.mark.parametrize("window, kind, strides, padding", [
    ([3], "MAX", None, "SAME"), ([2, 2], "AVG", [2, 2], "VALID"), ([3, 2], "AVG", [2, 1], "SAME"),
    ([2, 3], "MAX", None, "VALID")])
def test_pool_matches_tf_nn_pool(rng, window, kind, strides, padding):
    tf = tensorflow_or_skip()
    x = rng.standard_normal((2, 9, 3) if len(window) == 1 else (2, 7, 8, 3)).astype(np.float32)
    expected = tf.nn.pool(x, window, kind, strides=strides, padding=padding).numpy()
    np.testing.assert_allclose(nn_pool.pool(x, window, kind, strides=strides, padding=padding), expected,
                               rtol=1e-6, atol=1e-6)


@pytest.mark.tensorflow
@pytest.mark.parametrize("name, kw", [("relu", {}), ("relu6", {}), ("leaky_relu", {}), ("leaky_relu", {"alpha": 0.1}),
                                      ("elu", {}), ("selu", {}), ("gelu", {}), ("gelu", {"approximate": True}),
                                      ("silu", {}), ("silu", {"beta": 2.0}), ("softplus", {}), ("softsign", {}),
                                      ("sigmoid", {}), ("tanh", {}), ("softmax", {}), ("softmax", {"axis": 0}),
                                      ("log_softmax", {})], ids=str)
def test_activation_wrappers_match_tf_nn(rng, name, kw):
    tf = tensorflow_or_skip()
    x = (rng.standard_normal((4, 9)) * 3).astype(np.float32)
    np.testing.assert_allclose(getattr(nn_act, name)(x, **kw), getattr(tf.nn, name)(x, **kw).numpy(),
                               rtol=2e-6, atol=4e-6)

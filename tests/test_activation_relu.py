"""relu forward/backward: float64 reference, finite differences, every ISA against scalar, threads."""
import numpy as np
import pytest

from convlite import _core

from helpers import simd_isas, tensorflow_or_skip, using_isa, using_threads
import reference as ref

SIZES = [0, 1, 7, 8, 9, 15, 16, 17, 33, 1023, 3 * 4096 + 5]
PARAMS = [
    dict(),
    dict(negative_slope=0.3),
    dict(max_value=6.0),
    dict(max_value=2.5),
    dict(threshold=0.5),
    dict(threshold=-0.5),
    dict(negative_slope=0.1, max_value=4.0, threshold=0.25),
    dict(negative_slope=0.2, threshold=-1.0),
]


def sample(rng, n):
    x = rng.standard_normal(n).astype(np.float32) * 4
    if n > 8:  # hit the boundaries exactly
        x[:6] = [0.0, -0.0, 6.0, 2.5, 0.5, -0.5]
    return x


@pytest.mark.parametrize("params", PARAMS, ids=str)
@pytest.mark.parametrize("n", SIZES)
def test_relu_matches_float64_reference(each_isa, rng, n, params):
    x = sample(rng, n)
    dy = rng.standard_normal(n).astype(np.float32)
    np.testing.assert_allclose(_core.relu(x, **params), ref.relu(x, **params), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(_core.relu_backward(x, dy, **params), dy * ref.relu_grad(x, **params),
                               rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("isa", simd_isas())
@pytest.mark.parametrize("params", PARAMS, ids=str)
def test_simd_is_bit_identical_to_scalar(rng, isa, params):
    x = sample(rng, 4099)
    x[7:10] = [np.nan, np.inf, -np.inf]
    dy = rng.standard_normal(x.size).astype(np.float32)
    with using_isa("scalar"):
        expected = _core.relu(x, **params), _core.relu_backward(x, dy, **params)
    with using_isa(isa):
        got = _core.relu(x, **params), _core.relu_backward(x, dy, **params)
    for e, g in zip(expected, got):
        np.testing.assert_array_equal(g.view(np.uint32), e.view(np.uint32))


def test_relu_gradient_matches_finite_differences(rng):
    x = rng.uniform(-3, 3, 301)
    x = x[np.abs(x) > 1e-2] + 0.0  # stay away from the kink
    params = dict(negative_slope=0.2, max_value=2.0)
    x = x[np.abs(x - 2.0) > 1e-2]
    eps = 1e-3
    numeric = (ref.relu(x + eps, **params) - ref.relu(x - eps, **params)) / (2 * eps)
    got = _core.relu_backward(x.astype(np.float32), np.ones(x.size, np.float32), **params)
    np.testing.assert_allclose(got, numeric, atol=1e-3)


def test_threads_give_identical_results(rng):
    x = sample(rng, 1 << 20)
    with using_threads(1):
        one = _core.relu(x, negative_slope=0.1)
    with using_threads(2):
        two = _core.relu(x, negative_slope=0.1)
    np.testing.assert_array_equal(one, two)


def test_relu_keeps_shape_and_propagates_nan():
    x = np.array([[np.nan, -1.0, 2.0]], np.float32)
    y = _core.relu(x)
    assert y.shape == (1, 3) and np.isnan(y[0, 0]) and y[0, 1] == 0 and y[0, 2] == 2


@pytest.mark.parametrize("bad, error, text", [
    (np.zeros(3), TypeError, "x.dtype=float64"),
    ([1.0, 2.0], TypeError, "x of type list"),
    (np.zeros(6, np.float32)[::2], ValueError, "non-contiguous"),
    (np.zeros(3, np.int32), TypeError, "x.dtype=int32"),
])
def test_core_rejects_bad_arrays_with_named_errors(bad, error, text):
    with pytest.raises(error, match="Received") as info:
        _core.relu(bad)
    assert text in str(info.value)


def test_backward_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match=r"dy.shape=\(4,\)"):
        _core.relu_backward(np.zeros(3, np.float32), np.zeros(4, np.float32))


def test_nan_max_value_is_rejected():
    with pytest.raises(ValueError, match="max_value=nan"):
        _core.relu(np.zeros(3, np.float32), max_value=float("nan"))


@pytest.mark.tensorflow
@pytest.mark.parametrize("params", PARAMS, ids=str)
def test_relu_matches_keras(rng, params):
    tf = tensorflow_or_skip()
    import keras

    x = sample(rng, 257)
    xt = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(xt)
        yt = keras.activations.relu(xt, **params)
    dy = rng.standard_normal(x.size).astype(np.float32)
    gt = tape.gradient(yt, xt, output_gradients=tf.constant(dy))
    np.testing.assert_allclose(_core.relu(x, **params), yt.numpy(), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(_core.relu_backward(x, dy, **params), gt.numpy(), rtol=1e-6, atol=1e-7)

"""Every activation kind (relu excepted: test_activation_relu.py) forward and backward through _core.activation:
float64 reference, finite differences, every ISA bit-identical to scalar, threads, TensorFlow/Keras parity."""
import numpy as np
import pytest

from convlite import _core

from helpers import simd_isas, tensorflow_or_skip, using_isa, using_threads
import ref_activation as ref

ELEMENTWISE = ["linear", "leaky_relu", "elu", "selu", "gelu", "gelu_tanh", "silu", "sigmoid", "hard_sigmoid",
               "tanh", "softplus", "softsign", "exponential", "relu6"]
SIZES = [1, 7, 8, 9, 17, 33, 257]
EDGES = [0.0, -0.0, 6.0, -3.0, 3.0, 0.625, -0.625, 0.35, -0.35, 1e-6, -1e-6, 30.0, -30.0]


def sample(rng, n, scale=4.0):
    x = (rng.standard_normal(n) * scale).astype(np.float32)
    k = min(n, len(EDGES))
    x[:k] = EDGES[:k]
    return x


def backward(x, dy, kind, **kw):
    return _core.activation_backward(x, _core.activation(x, kind, **kw), dy, kind, **kw)


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("kind", ELEMENTWISE)
def test_matches_float64_reference(each_isa, rng, kind, n):
    x = sample(rng, n)
    if kind == "exponential":
        x = np.clip(x, -80, 80)
    dy = rng.standard_normal(n).astype(np.float32)
    y = _core.activation(x, kind)
    expected = ref.forward(kind, x)
    # Approximations (exp, tanh, erf, log) are within a few float32 ulps of float64, plus gelu's 1 + erf cancellation
    # (absolute error <= 1e-6 near x = -3), which TensorFlow has as well.
    np.testing.assert_allclose(y, expected, rtol=4e-7, atol=1e-6 if kind.startswith("gelu") else 1e-30)
    got = backward(x, dy, kind)
    np.testing.assert_allclose(got, dy * ref.grad(kind, x), rtol=2e-6, atol=1e-6)


@pytest.mark.parametrize("kind, alpha", [("leaky_relu", 0.01), ("leaky_relu", 0.3), ("elu", 0.5), ("elu", 2.0)])
def test_alpha_is_honoured(each_isa, rng, kind, alpha):
    x = sample(rng, 101)
    dy = rng.standard_normal(x.size).astype(np.float32)
    np.testing.assert_allclose(_core.activation(x, kind, alpha=alpha), ref.forward(kind, x, alpha), rtol=4e-7,
                               atol=1e-30)
    np.testing.assert_allclose(backward(x, dy, kind, alpha=alpha), dy * ref.grad(kind, x, alpha), rtol=2e-6,
                               atol=1e-7)


@pytest.mark.parametrize("kind", ELEMENTWISE)
def test_backward_matches_finite_differences_of_forward(rng, kind):
    x = rng.uniform(-4, 4, 400)
    x = x[np.min(np.abs(x[:, None] - np.array([0.0, 6.0, -3.0, 3.0])), axis=1) > 0.05]  # away from kinks
    h = 1e-2
    plus = _core.activation((x + h).astype(np.float32), kind).astype(np.float64)
    minus = _core.activation((x - h).astype(np.float32), kind).astype(np.float64)
    numeric = (plus - minus) / (2 * h)
    got = backward(x.astype(np.float32), np.ones(x.size, np.float32), kind)
    np.testing.assert_allclose(got, numeric, rtol=2e-3, atol=2e-3)


def special_values(rng):
    x = sample(rng, 4099, scale=20.0)
    x[20:27] = [np.nan, np.inf, -np.inf, 88.7, 89.5, -87.0, -104.5]
    return x


@pytest.mark.parametrize("isa", simd_isas())
@pytest.mark.parametrize("kind", ELEMENTWISE)
def test_simd_is_bit_identical_to_scalar(rng, isa, kind):
    x = special_values(rng)
    dy = rng.standard_normal(x.size).astype(np.float32)
    with using_isa("scalar"):
        expected = _core.activation(x, kind), backward(x, dy, kind)
    with using_isa(isa):
        got = _core.activation(x, kind), backward(x, dy, kind)
    for e, g in zip(expected, got):
        np.testing.assert_array_equal(g.view(np.uint32)[~np.isnan(e)], e.view(np.uint32)[~np.isnan(e)])
        np.testing.assert_array_equal(np.isnan(g), np.isnan(e))


@pytest.mark.parametrize("kind", ["gelu", "softplus", "tanh"])
def test_threads_give_identical_results(rng, kind):
    x = sample(rng, (1 << 18) + 3)
    with using_threads(1):
        one = _core.activation(x, kind), backward(x, x, kind)
    with using_threads(2):
        two = _core.activation(x, kind), backward(x, x, kind)
    for a, b in zip(one, two):
        np.testing.assert_array_equal(a, b)


def test_special_values():
    x = np.array([np.nan, np.inf, -np.inf, 89.0, -110.0], np.float32)
    with np.errstate(over="ignore"):
        assert np.array_equal(_core.activation(x, "exponential")[1:], [np.inf, 0.0, np.inf, 0.0])
    assert np.isnan(_core.activation(x, "exponential")[0])
    np.testing.assert_array_equal(_core.activation(x[1:3], "tanh"), [1.0, -1.0])
    np.testing.assert_array_equal(_core.activation(x[1:3], "sigmoid"), [1.0, 0.0])
    np.testing.assert_array_equal(_core.activation(x[1:3], "softplus"), [np.inf, 0.0])
    for kind in ELEMENTWISE:
        if kind not in ("hard_sigmoid", "relu6"):
            assert np.isnan(_core.activation(x[:1], kind)[0]), kind


# Stated accuracy of the vectorised approximations (docstrings of convlite.activations quote these bounds).
ACCURACY = [  # kind, range, bound on relative error (where |f| >= 1e-30), bound on absolute error
    ("exponential", (-87.0, 88.0), 2.5e-7, None),
    ("tanh", (-12.0, 12.0), 3.0e-7, None),  # rational form: 2.87e-7 over every float (TensorFlow's: 3.6e-7)
    ("sigmoid", (-80.0, 30.0), 2.5e-7, None),
    ("softplus", (-80.0, 80.0), 2.5e-7, None),
    ("elu", (-20.0, 1.0), 2.5e-7, None),
    ("gelu", (-10.0, 10.0), None, 1e-6),
    ("gelu_tanh", (-10.0, 10.0), None, 1e-6),
]


@pytest.mark.parametrize("kind, span, max_rel, max_abs", ACCURACY)
def test_approximation_error_against_float64(kind, span, max_rel, max_abs):
    x = np.linspace(*span, 300_001).astype(np.float32)
    y = _core.activation(x, kind).astype(np.float64)
    exact = ref.forward(kind, x)
    if max_rel is not None:
        keep = np.abs(exact) >= 1e-30
        assert np.max(np.abs(y - exact)[keep] / np.abs(exact[keep])) <= max_rel
    if max_abs is not None:
        assert np.max(np.abs(y - exact)) <= max_abs


# ------------------------------------------------------------------ softmax / log_softmax
@pytest.mark.parametrize("kind", ["softmax", "log_softmax"])
@pytest.mark.parametrize("shape", [(1,), (5, 1), (3, 7), (2, 3, 17), (4, 64), (2, 1001)])
def test_softmax_matches_reference(each_isa, rng, kind, shape):
    x = (rng.standard_normal(shape) * 5).astype(np.float32)
    dy = rng.standard_normal(shape).astype(np.float32)
    y = _core.activation(x, kind)
    # log_softmax rounds x - max in float32: absolute error up to an ulp of |x - max| (2e-6 near 20).
    np.testing.assert_allclose(y, ref.forward(kind, x), rtol=2e-6, atol=4e-6 if kind == "log_softmax" else 2e-7)
    dx = _core.activation_backward(None, y, dy, kind)
    np.testing.assert_allclose(dx, ref.softmax_backward(x, dy, kind == "log_softmax"), rtol=2e-5, atol=2e-6)


def test_softmax_is_numerically_stable():
    x = np.array([[1000.0, 1000.0, -1000.0], [-1e30, 0.0, 0.0]], np.float32)
    np.testing.assert_allclose(_core.activation(x, "softmax"), [[0.5, 0.5, 0.0], [0.0, 0.5, 0.5]], atol=1e-7)
    np.testing.assert_allclose(_core.activation(x, "log_softmax")[0, :2], [-np.log(2)] * 2, rtol=1e-6)


@pytest.mark.parametrize("kind", ["softmax", "log_softmax"])
def test_softmax_backward_matches_finite_differences(rng, kind):
    x = rng.standard_normal((3, 11))
    dy = rng.standard_normal((3, 11))
    h = 1e-3
    numeric = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        e = np.zeros_like(x)
        e[i] = h
        plus = _core.activation((x + e).astype(np.float32), kind).astype(np.float64)
        minus = _core.activation((x - e).astype(np.float32), kind).astype(np.float64)
        numeric[i] = np.sum(dy * (plus - minus)) / (2 * h)
    y = _core.activation(x.astype(np.float32), kind)
    got = _core.activation_backward(None, y, dy.astype(np.float32), kind)
    np.testing.assert_allclose(got, numeric, rtol=1e-2, atol=2e-3)


@pytest.mark.parametrize("isa", simd_isas())
def test_softmax_simd_close_to_scalar_and_threads_identical(rng, isa):
    x = (rng.standard_normal((300, 37)) * 3).astype(np.float32)
    with using_isa("scalar"):
        expected = _core.activation(x, "softmax")
    with using_isa(isa):
        # Lane sums are added in a different order per ISA: a few ulps apart.
        np.testing.assert_allclose(_core.activation(x, "softmax"), expected, rtol=1e-6, atol=1e-9)
        big = (rng.standard_normal((4096, 67))).astype(np.float32)
        with using_threads(1):
            one = _core.activation(big, "log_softmax")
        with using_threads(2):
            two = _core.activation(big, "log_softmax")
        np.testing.assert_array_equal(one, two)


# ------------------------------------------------------------------ argument errors
def test_errors_name_the_received_value():
    x = np.zeros(3, np.float32)
    with pytest.raises(ValueError, match=r"Received: kind='mish'") as info:
        _core.activation(x, "mish")
    assert "'softmax'" in str(info.value)
    with pytest.raises(ValueError, match=r"Received: y=None"):
        _core.activation_backward(x, None, x, "sigmoid")
    with pytest.raises(ValueError, match=r"Received: x=None"):
        _core.activation_backward(None, x, x, "gelu")
    with pytest.raises(ValueError, match=r"y.shape=\(4,\)"):
        _core.activation_backward(x, np.zeros(4, np.float32), x, "tanh")
    with pytest.raises(ValueError, match="x.shape=\\(\\)"):
        _core.activation(np.ones((), np.float32), "softmax")
    with pytest.raises(TypeError, match="x.dtype=float64"):
        _core.activation(np.zeros(3), "tanh")
    with pytest.raises(ValueError, match="alpha=nan"):
        _core.activation(x, "elu", alpha=float("nan"))


def test_gelu_approximate_flag_selects_tanh_form(rng):
    x = sample(rng, 50)
    np.testing.assert_array_equal(_core.activation(x, "gelu", approximate=True), _core.activation(x, "gelu_tanh"))
    assert np.array_equal(_core.activation(x, "swish"), _core.activation(x, "silu"))


# ------------------------------------------------------------------ TensorFlow / Keras parity
KERAS_CASES = [(k, {}) for k in ELEMENTWISE if k != "gelu_tanh"] + [
    ("gelu", {"approximate": True}), ("leaky_relu", {"negative_slope": 0.1}), ("elu", {"alpha": 0.5}),
    ("softmax", {}), ("log_softmax", {})]


@pytest.mark.tensorflow
@pytest.mark.parametrize("kind, kw", KERAS_CASES, ids=str)
def test_matches_keras_activation_and_gradient(rng, kind, kw):
    tf = tensorflow_or_skip()
    import keras

    x = sample(rng, 7 * 37).reshape(7, 37)
    dy = rng.standard_normal(x.shape).astype(np.float32)
    xt = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(xt)
        yt = getattr(keras.activations, kind)(xt, **kw)
    gt = tape.gradient(yt, xt, output_gradients=tf.constant(dy)).numpy()
    core_kw = {"alpha": kw["negative_slope"]} if "negative_slope" in kw else kw
    y = _core.activation(x, kind, **core_kw)
    dx = _core.activation_backward(x, y, dy, kind, **core_kw)
    np.testing.assert_allclose(y, yt.numpy(), rtol=2e-6, atol=1e-6)
    # TensorFlow differentiates gelu's tanh form in float32 term by term: near x = -3 its cancellation errors reach
    # 5e-6 (ours is within 1e-6 of float64 there, test_matches_float64_reference).
    np.testing.assert_allclose(dx, gt, rtol=2e-5, atol=1e-5 if kind == "gelu" else 2e-6)


@pytest.mark.parametrize("params", [{}, {"negative_slope": 0.1, "max_value": 3.0, "threshold": 0.5}], ids=str)
def test_relu_kind_uses_the_relu_kernels(rng, params):
    x = sample(rng, 101)
    dy = rng.standard_normal(x.size).astype(np.float32)
    np.testing.assert_array_equal(_core.activation(x, "relu", **params), _core.relu(x, **params))
    np.testing.assert_array_equal(_core.activation_backward(x, None, dy, "relu", **params),
                                  _core.relu_backward(x, dy, **params))


def test_unneeded_forward_arrays_may_be_omitted(rng):
    x = sample(rng, 33)
    dy = rng.standard_normal(x.size).astype(np.float32)
    y = _core.activation(x, "tanh")
    np.testing.assert_array_equal(_core.activation_backward(None, y, dy, "tanh"),
                                  _core.activation_backward(x, y, dy, "tanh"))
    np.testing.assert_array_equal(_core.activation_backward(x, None, dy, "gelu"),
                                  _core.activation_backward(x, _core.activation(x, "gelu"), dy, "gelu"))

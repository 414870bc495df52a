"""convlite.activations mirrors keras.activations: names, arguments, defaults, get/serialize, dtypes, axes."""
import numpy as np
import pytest

from convlite import activations

from helpers import tensorflow_or_skip
import ref_activation as ref
import reference

CASES = [
    ("relu", {}), ("relu", {"negative_slope": 0.1, "max_value": 4.0, "threshold": 0.5}), ("leaky_relu", {}),
    ("leaky_relu", {"negative_slope": 0.05}), ("elu", {}), ("elu", {"alpha": 0.3}), ("selu", {}), ("gelu", {}),
    ("gelu", {"approximate": True}), ("silu", {}), ("swish", {}), ("sigmoid", {}), ("hard_sigmoid", {}),
    ("tanh", {}), ("softplus", {}), ("softsign", {}), ("exponential", {}), ("relu6", {}), ("softmax", {}),
    ("softmax", {"axis": 0}), ("softmax", {"axis": (0, 2)}), ("log_softmax", {}), ("log_softmax", {"axis": 1}),
    ("linear", {}),
]


def sample(rng):
    return (rng.standard_normal((3, 4, 5)) * 3).astype(np.float32)


def expected(name, x, kw):
    if name == "relu":
        return reference.relu(x, **kw)
    if name in ("softmax", "log_softmax"):
        axis = kw.get("axis", -1)
        x = np.asarray(x, np.float64)
        shifted = x - x.max(axis=axis, keepdims=True)
        log = shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))
        return log if name == "log_softmax" else np.exp(log)
    kind = "gelu_tanh" if kw.get("approximate") else name
    alpha = kw.get("negative_slope", kw.get("alpha"))
    return ref.forward(kind, x, alpha)


@pytest.mark.parametrize("name, kw", CASES, ids=str)
def test_matches_float64_reference(rng, name, kw):
    x = sample(rng)
    y = getattr(activations, name)(x, **kw)
    assert isinstance(y, np.ndarray) and y.dtype == np.float32 and y.shape == x.shape
    np.testing.assert_allclose(y, expected(name, x, kw), rtol=2e-6, atol=4e-6)


@pytest.mark.tensorflow
@pytest.mark.parametrize("name, kw", CASES, ids=str)
def test_matches_keras_activations(rng, name, kw):
    tensorflow_or_skip()
    import keras

    x = sample(rng)
    np.testing.assert_allclose(getattr(activations, name)(x, **kw),
                               np.asarray(getattr(keras.activations, name)(x, **kw)), rtol=2e-6, atol=4e-6)


def test_any_numeric_dtype_is_cast_to_float32():
    for x in ([-1, 2], np.array([-1.0, 2.0]), np.array([-1, 2], np.int64), np.array([-1, 2], np.float16), 3.0):
        y = activations.relu(x)
        assert y.dtype == np.float32
    np.testing.assert_array_equal(activations.relu(np.arange(-2.0, 2.0)[::2]), [0.0, 0.0])  # non-contiguous
    with pytest.raises(TypeError, match="Received"):
        activations.tanh(np.array(["a"]))


def test_get_serialize_and_core_kind():
    assert activations.get(None) is activations.linear
    assert activations.get("relu") is activations.relu
    assert activations.get("swish") is activations.silu
    assert activations.get({"module": "keras.activations", "class_name": "function", "config": "gelu"}) is \
        activations.gelu
    fn = lambda x: x  # noqa: E731
    assert activations.get(fn) is fn
    with pytest.raises(ValueError, match=r"Received: identifier='mish'") as info:
        activations.get("mish")
    assert "'softmax'" in str(info.value)
    with pytest.raises(ValueError, match="Received"):
        activations.get(3)
    for name in ["relu", "gelu", "softmax", "tanh", "linear", "leaky_relu"]:
        fn = activations.get(name)
        assert activations.serialize(fn) == name
        assert activations.deserialize(name) is fn
        assert isinstance(fn._core_kind, str)
    assert activations.serialize(activations.swish) == "silu"
    assert activations.leaky_relu._core_params == {"alpha": 0.2}
    with pytest.raises(ValueError, match="cannot be serialized"):
        activations.serialize(lambda x: x)


def test_softmax_axis_errors():
    x = np.zeros((2, 3), np.float32)
    with pytest.raises(ValueError, match=r"axis=2"):
        activations.softmax(x, axis=2)
    with pytest.raises(ValueError, match=r"axis=\(0, 0\)"):
        activations.softmax(x, axis=(0, 0))
    with pytest.raises(TypeError, match=r"axis='a'"):
        activations.softmax(x, axis="a")

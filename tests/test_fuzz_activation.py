"""Fuzzing convlite.nn's activations against tests/ref_activation.py / reference.py: any shape (0-d, empty, odd
sizes for SIMD tails), float and integer dtypes, every layout, values up to +-100 (exp overflow, saturation),
scalar arguments and softmax axes; invalid inputs raise ValueError/TypeError naming what was received."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import convlite.nn as nn
import ref_activation
import reference
import strategies as S


@pytest.fixture(autouse=True, scope="module")
def _fuzz_report(request):
    S.install_report(request.config)


_KINDS = {  # nn function -> (ref kind, keyword arguments drawn for it)
    "relu": ("relu", {}), "relu6": ("relu6", {}), "leaky_relu": ("leaky_relu", {"alpha": [0.0, 0.2, 0.3, 1.5]}),
    "elu": ("elu", {}), "selu": ("selu", {}), "gelu": ("gelu", {"approximate": [False, True]}),
    "silu": ("silu", {"beta": [1.0, 0.5, 2.0]}), "softplus": ("softplus", {}), "softsign": ("softsign", {}),
    "sigmoid": ("sigmoid", {}), "tanh": ("tanh", {}),
}


def _reference(name, x, kwargs):
    if name == "relu":
        return reference.relu(x)
    if name == "leaky_relu":
        return ref_activation.forward("leaky_relu", x, kwargs["alpha"])
    if name == "gelu":
        return ref_activation.forward("gelu_tanh" if kwargs["approximate"] else "gelu", x)
    if name == "silu":
        return x * ref_activation.sigmoid(kwargs["beta"] * x)
    return ref_activation.forward(_KINDS[name][0], x)


_SHAPES = st.lists(st.sampled_from([0, 1, 1, 2, 3, 7, 8, 9, 17]), min_size=0, max_size=4).map(tuple)
_DTYPES = (np.float32, np.float64, np.float16, np.int32, np.int8, np.bool_)


@S.fuzz(1500)
@given(st.data())
def test_elementwise_activations(data):
    S.record("nn.activation")
    draw = data.draw
    name = draw(st.sampled_from(sorted(_KINDS)))
    kwargs = {k: draw(st.sampled_from(v)) for k, v in _KINDS[name][1].items()}
    shape = draw(_SHAPES)
    x, _ = draw(S.float_arrays(shape, dtypes=_DTYPES))
    scale = draw(st.sampled_from([1.0, 1.0, 10.0, 100.0]))
    if not isinstance(x, list) and np.asarray(x).dtype.kind == "f":
        x = (np.asarray(x) * scale).astype(np.asarray(x).dtype)
    x32 = np.asarray(x, np.float32).astype(np.float64)  # the op computes on the float32-rounded input
    y = getattr(nn, name)(x, **kwargs)
    assert isinstance(y, np.ndarray) and y.dtype == np.float32 and y.shape == np.shape(x)
    with np.errstate(over="ignore", invalid="ignore"):
        ref = _reference(name, x32, kwargs)
    np.testing.assert_allclose(y, ref.astype(np.float32), rtol=2e-6, atol=2e-6)


@S.fuzz(400)
@given(st.data())
def test_softmax_and_log_softmax(data):
    S.record("nn.softmax")
    draw = data.draw
    shape = draw(st.lists(st.sampled_from([1, 2, 3, 5, 8, 9]), min_size=1, max_size=3).map(tuple))
    x, _ = draw(S.float_arrays(shape))
    axis = draw(st.sampled_from([None, -1, 0, len(shape) - 1, -len(shape)]))
    x32 = np.asarray(x, np.float32).astype(np.float64)
    ax = -1 if axis is None else axis
    for fn, ref in ((nn.softmax, ref_activation.softmax(np.moveaxis(x32, ax, -1))),
                    (nn.log_softmax, ref_activation.log_softmax(np.moveaxis(x32, ax, -1)))):
        y = fn(x, axis=axis)
        assert y.dtype == np.float32 and y.shape == shape
        np.testing.assert_allclose(np.moveaxis(y, ax, -1), ref, rtol=1e-5, atol=1e-6)


_HOSTILE_SCALARS = st.sampled_from([0.2, 1, np.float32(0.5), np.array(0.3), "0.2", None, [0.2], float("nan"),
                                    float("inf"), True, 1 + 2j, object()])


@S.fuzz(400)
@given(st.data())
def test_hostile_activation_arguments_are_rejected_cleanly(data):
    S.record("nn.activation hostile")
    draw = data.draw
    name = draw(st.sampled_from(sorted(_KINDS) + ["softmax", "log_softmax"]))
    x = draw(S.hostile_arrays(draw(st.integers(0, 3)))) if draw(st.booleans()) else np.ones((2, 3), np.float32)
    kwargs = {}
    if name in ("leaky_relu", "silu"):
        kwargs = {"alpha" if name == "leaky_relu" else "beta": draw(_HOSTILE_SCALARS)}
    if name in ("softmax", "log_softmax"):
        kwargs = {"axis": draw(st.sampled_from([None, 0, -1, 5, -9, 1.5, "1", (0, 1), (0, 0), [], 2**70]))}
    try:
        y = getattr(nn, name)(x, **kwargs)
    except (ValueError, TypeError) as err:
        assert "Received" in str(err), f"{name}: {err}"
    else:
        assert isinstance(y, np.ndarray) and y.dtype == np.float32

"""`out=` (numpy style) on _core.relu, relu_backward, activation and activation_backward: a given array receives
exactly what a fresh result would hold, on every ISA, with odd sizes (vector tails) and several parallel blocks; the
output may be an input itself (in place), never a view overlapping an input at an offset; bad outputs raise
Keras-style errors naming the received value."""
import numpy as np
import pytest

from convlite import _core

from helpers import using_threads

SIZES = [1, 7, 9, 4099, 3 * 4096 + 5]
KINDS = ["tanh", "sigmoid", "gelu", "softplus", "elu"]


def arrays(rng, n):
    x = (rng.standard_normal(n) * 4).astype(np.float32)
    dy = rng.standard_normal(n).astype(np.float32)
    return x, dy


@pytest.mark.parametrize("n", SIZES)
def test_relu_out_separate_and_in_place(each_isa, rng, n):
    x, dy = arrays(rng, n)
    expected_y, expected_dx = _core.relu(x), _core.relu_backward(x, dy)
    out = np.full(n, np.nan, np.float32)
    assert _core.relu(x, out=out) is out
    np.testing.assert_array_equal(out, expected_y)
    assert _core.relu_backward(x, dy, out=out) is out
    np.testing.assert_array_equal(out, expected_dx)
    grad = dy.copy()  # in place over the gradient, as a backward pass would
    _core.relu_backward(x, grad, out=grad)
    np.testing.assert_array_equal(grad, expected_dx)
    params = dict(negative_slope=0.1, max_value=4.0, threshold=0.25)
    inputs = x.copy()  # forward in place over its input
    _core.relu(inputs, out=inputs, **params)
    np.testing.assert_array_equal(inputs, _core.relu(x, **params))


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("kind", KINDS)
def test_activation_out_separate_and_in_place(each_isa, rng, kind, n):
    x, dy = arrays(rng, n)
    y = _core.activation(x, kind)
    dx = _core.activation_backward(x, y, dy, kind)
    in_place = x.copy()
    assert _core.activation(in_place, kind, out=in_place) is in_place
    np.testing.assert_array_equal(in_place, y)
    for alias in ("dy", "x", "y"):  # each input the kind may read, overwritten by dx
        ins = {"x": x.copy(), "y": y.copy(), "dy": dy.copy()}
        got = _core.activation_backward(ins["x"], ins["y"], ins["dy"], kind, out=ins[alias])
        assert got is ins[alias]
        np.testing.assert_array_equal(got, dx)


@pytest.mark.parametrize("kind", ["softmax", "log_softmax"])
@pytest.mark.parametrize("shape", [(1, 1), (3, 7), (5, 256), (3, 2049)])
def test_softmax_out_in_place(each_isa, rng, kind, shape):
    x = (rng.standard_normal(shape) * 3).astype(np.float32)
    dy = rng.standard_normal(shape).astype(np.float32)
    y = _core.activation(x, kind)
    dx = _core.activation_backward(None, y, dy, kind)
    z = x.copy()
    _core.activation(z, kind, out=z)
    np.testing.assert_array_equal(z, y)
    g = dy.copy()
    _core.activation_backward(None, y, g, kind, out=g)
    np.testing.assert_array_equal(g, dx)
    over_y = y.copy()  # the forward output overwritten by its gradient
    _core.activation_backward(None, over_y, dy, kind, out=over_y)
    np.testing.assert_array_equal(over_y, dx)


def test_in_place_threads_identical(rng):
    x, dy = arrays(rng, (1 << 18) + 3)
    results = []
    for threads in (1, 2):
        with using_threads(threads):
            grad, t = dy.copy(), x.copy()
            _core.relu_backward(x, grad, out=grad)
            _core.activation(t, "tanh", out=t)
            results.append((grad, t))
    for a, b in zip(*results):
        np.testing.assert_array_equal(a, b)


def test_bad_out_arrays_are_rejected(rng):
    x, dy = arrays(rng, 64)
    with pytest.raises(ValueError, match=r"out.shape=\(63,\)"):
        _core.relu(x, out=np.zeros(63, np.float32))
    with pytest.raises(TypeError, match="out.dtype=float64"):
        _core.relu_backward(x, dy, out=np.zeros(64))
    read_only = np.zeros(64, np.float32)
    read_only.flags.writeable = False
    with pytest.raises(ValueError, match="out"):
        _core.activation(x, "tanh", out=read_only)
    with pytest.raises(ValueError, match=r"overlapping `x` at an offset of 4 bytes"):
        _core.relu(x[:-1], out=x[1:])
    with pytest.raises(ValueError, match=r"overlapping `dy` at an offset of -8 bytes"):
        _core.relu_backward(x[2:], dy[2:], out=dy[:-2])
    with pytest.raises(ValueError, match=r"overlapping `y`"):
        y = _core.activation(x, "sigmoid")
        _core.activation_backward(None, y[:-1], dy[:-1], "sigmoid", out=y[1:])
    np.testing.assert_array_equal(x, arrays(np.random.default_rng(20261123), 64)[0])  # the rejected calls wrote nothing

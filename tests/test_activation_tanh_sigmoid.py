"""tanh and sigmoid's own kernels (vtanh: x (P(x^2) / Q(x^2)) clamped at +-8.01641369; vsigmoid: 1 / (1 + e^{-x})
clamped to [-89, 87]) where their forms have edges: tiny values and +-0, the clamp points, saturation, symmetry,
and gelu_tanh keeping the accurate tanh. Bounds are those stated in activation_elementary.inc (measured there over
every float; here on dense grids)."""
import numpy as np
import pytest

from convlite import _core

from helpers import simd_isas, using_isa
import ref_activation as ref

TANH_CLAMP = np.float32(8.01641369)
TANH_MAX_REL = 3.0e-7
SIGMOID_MAX_REL = 2.5e-7


def near(x0, k):
    """The k floats either side of x0 and x0 itself."""
    x0 = np.float32(x0)
    up, down = [x0], [x0]
    for _ in range(k):
        up.append(np.nextafter(up[-1], np.float32(np.inf)))
        down.append(np.nextafter(down[-1], np.float32(-np.inf)))
    return np.array(down[::-1] + up[1:], np.float32)


def max_rel(y, exact):
    return np.max(np.abs(y.astype(np.float64) - exact) / np.abs(exact))


def tanh_grid():
    tiny = np.geomspace(1e-30, 1.0, 20_001)  # normal floats only: subnormal inputs flush to zero in the kernels
    dense = np.linspace(0.0, 12.0, 400_001)[1:]
    x = np.concatenate([tiny, dense, near(TANH_CLAMP, 300), near(9.01, 300), near(0.625, 50)]).astype(np.float32)
    return np.concatenate([x, -x])


def test_tanh_error_on_tiny_values_and_near_the_clamp():
    x = tanh_grid()
    y = _core.activation(x, "tanh")
    assert max_rel(y, np.tanh(x.astype(np.float64))) <= TANH_MAX_REL
    assert np.all(np.abs(y) <= 1.0)
    # tiny |x|: tanh(x) rounds to x itself, and the rational form gives exactly x (P(0) and Q(0) are the same float)
    small = np.abs(x) < 1e-4
    np.testing.assert_array_equal(y[small], x[small])


def test_tanh_is_odd_bit_for_bit_and_keeps_signed_zero():
    x = tanh_grid()
    np.testing.assert_array_equal(_core.activation(-x, "tanh"), -_core.activation(x, "tanh"))
    zeros = _core.activation(np.array([0.0, -0.0], np.float32), "tanh")
    assert zeros.tolist() == [0.0, 0.0] and not np.signbit(zeros[0]) and np.signbit(zeros[1])


def test_tanh_saturates_to_exactly_one_from_the_clamp_on():
    x = np.concatenate([near(TANH_CLAMP, 0)[:1], np.float32([8.5, 9.0, 20.0, 1e10, 3e38, np.inf])])
    y = _core.activation(np.concatenate([x, -x]), "tanh")
    np.testing.assert_array_equal(y, np.concatenate([np.ones(x.size), -np.ones(x.size)]).astype(np.float32))
    below = near(TANH_CLAMP, 200)[:200]  # below the clamp: never above 1, within the bound
    assert np.all(_core.activation(below, "tanh") <= 1.0)
    assert _core.activation(below[-1:], "tanh")[0] < 1.0  # the clamp is the first float the form takes to 1
    nan = _core.activation(np.float32([np.nan, -np.nan]), "tanh")
    assert np.all(np.isnan(nan))


def sigmoid_grid():
    return np.concatenate([np.linspace(-87.0, 30.0, 500_001), near(-87.0, 100), near(-16.7, 100), near(0.0, 100),
                           -np.geomspace(1e-30, 1.0, 2001), np.geomspace(1e-30, 1.0, 2001)]).astype(np.float32)


def test_sigmoid_error_over_its_range_and_near_the_clamps():
    x = sigmoid_grid()
    exact = ref.sigmoid(x.astype(np.float64))
    keep = exact >= 1e-30
    assert max_rel(_core.activation(x, "sigmoid")[keep], exact[keep]) <= SIGMOID_MAX_REL


def test_sigmoid_limits():
    x = np.float32([87.0, 88.0, 104.0, 1e30, np.inf, -88.8, -89.0, -104.0, -1e30, -np.inf, 0.0, -0.0])
    y = _core.activation(x, "sigmoid")
    # above 16.7 the float result is 1; below -87.4 the true value is under 2^-126 and flushes to 0
    np.testing.assert_array_equal(y, np.float32([1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0.5, 0.5]))
    assert np.isnan(_core.activation(np.float32([np.nan]), "sigmoid")[0])
    y = _core.activation(np.float32([-87.0, -80.0]), "sigmoid")
    assert np.all(y > 0)


@pytest.mark.parametrize("isa", simd_isas())
@pytest.mark.parametrize("kind", ["tanh", "sigmoid", "silu", "gelu_tanh"])
def test_simd_bit_identical_at_the_edges(isa, kind):
    x = np.concatenate([tanh_grid()[::37], sigmoid_grid()[::41], near(89.0, 20), -near(89.0, 20),
                        np.float32([np.inf, -np.inf, 0.0, -0.0])])[:-2]  # odd length: a partial vector
    assert x.size % 8 != 0
    with using_isa("scalar"):
        expected = _core.activation(x, kind)
    with using_isa(isa):
        got = _core.activation(x, kind)
    np.testing.assert_array_equal(got.view(np.uint32), expected.view(np.uint32))


def test_gelu_tanh_keeps_the_accurate_tanh_near_saturation():

    # stays at the 1e-6 level of test_matches_float64_reference.
    x = np.linspace(-6.0, -2.0, 4001).astype(np.float32)
    dy = np.ones_like(x)
    got = _core.activation_backward(x, _core.activation(x, "gelu_tanh"), dy, "gelu_tanh")
    np.testing.assert_allclose(got, ref.grad("gelu_tanh", x), rtol=2e-6, atol=1e-6)

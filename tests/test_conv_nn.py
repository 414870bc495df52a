"""convlite's tf.nn-shaped conv wrappers: argument forms, padding resolution, dtype casting, Keras-style errors."""
import numpy as np
import pytest

from convlite import _nn_conv as nn

import ref_conv as ref


@pytest.mark.parametrize("mode", ["valid", "same", "causal", "full", "SAME", "Valid"])
@pytest.mark.parametrize("n,k,s,d", [(10, 3, 1, 1), (11, 4, 2, 1), (7, 3, 3, 2), (5, 1, 1, 1), (2, 5, 1, 1)])
def test_resolve_padding_matches_reference(mode, n, k, s, d):
    assert nn.resolve_padding(n, k, s, d, mode) == ref.pads_for(n, k, s, d, mode.lower())


def test_resolve_padding_explicit_forms():
    assert nn.resolve_padding(5, 3, 1, 1, 2) == (2, 2)
    assert nn.resolve_padding(5, 3, 1, 1, (1, 3)) == (1, 3)
    with pytest.raises(ValueError, match="padding='reflect'"):
        nn.resolve_padding(5, 3, 1, 1, "reflect")
    with pytest.raises(ValueError, match=r"padding=\(-1, 0\)"):
        nn.resolve_padding(5, 3, 1, 1, (-1, 0))
    with pytest.raises(ValueError, match="stride=0"):
        nn.resolve_padding(5, 3, 0, 1, "same")


def test_conv2d_argument_forms_agree(rng):
    x = rng.standard_normal((1, 9, 9, 3))
    w = rng.standard_normal((3, 3, 3, 4))
    a = nn.conv2d(x, w, 2, "SAME")
    b = nn.conv2d(x.astype(np.float16), w, [2, 2], "same")
    c = nn.conv2d(x, w, [1, 2, 2, 1], [[0, 0], [1, 1], [1, 1], [0, 0]])
    assert a.dtype == np.float32 and a.shape == (1, 5, 5, 4)
    np.testing.assert_allclose(a, ref.conv2d(x, w, strides=(2, 2), padding=(1, 1, 1, 1)), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(b, a, rtol=1e-2, atol=1e-2)
    np.testing.assert_array_equal(c, a)


def test_conv1d_grouped_and_causal(rng):
    x = rng.standard_normal((2, 12, 4)).astype(np.float32)
    w = rng.standard_normal((3, 2, 6)).astype(np.float32)
    y = nn.conv1d(x, w, 1, "causal", dilations=2)
    want = ref.conv2d(x[:, None], w[None], padding=(0, 0, 4, 0), dilations=(1, 2), groups=2)[:, 0]
    np.testing.assert_allclose(y, want, rtol=1e-5, atol=1e-5)


def test_separable_equals_depthwise_then_pointwise(rng):
    x = rng.standard_normal((1, 6, 7, 3)).astype(np.float32)
    dw = rng.standard_normal((3, 3, 3, 2)).astype(np.float32)
    pw = rng.standard_normal((1, 1, 6, 4)).astype(np.float32)
    got = nn.separable_conv2d(x, dw, pw, 1, "VALID")
    want = ref.conv2d(ref.depthwise2d(x, dw), pw)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("call,error,text", [
    (lambda: nn.conv2d(np.zeros((1, 5, 5, 3)), np.zeros((3, 3, 2, 4)), 1, "SAME"), ValueError, "filters.shape"),
    (lambda: nn.conv2d(np.zeros((5, 5, 3)), np.zeros((3, 3, 3, 4)), 1, "SAME"), ValueError, "input.shape"),
    (lambda: nn.conv2d(np.zeros((1, 5, 5, 3)), np.zeros((3, 3, 3, 4)), [1, 2, 3], "SAME"), ValueError, "strides="),
    (lambda: nn.conv2d(np.zeros((1, 5, 5, 3)), np.zeros((3, 3, 3, 4)), [2, 1, 1, 1], "SAME"), ValueError,
     "batch and channel"),
    (lambda: nn.conv2d(np.zeros((1, 5, 5, 3)), np.zeros((3, 3, 3, 4)), 0, "SAME"), ValueError, "strides=0"),
    (lambda: nn.conv2d(np.zeros((1, 5, 5, 3)), np.zeros((3, 3, 3, 4)), 1, "REFLECT"), ValueError, "REFLECT"),
    (lambda: nn.conv2d(np.zeros((1, 5, 5, 3), np.int32), np.zeros((3, 3, 3, 4)), 1, "SAME"), TypeError, "int32"),
    (lambda: nn.conv2d(np.zeros((1, 5, 5, 3)), np.zeros((3, 3, 3, 4)), 1, "SAME", data_format="NCHW"), ValueError,
     "NCHW"),
    (lambda: nn.conv2d(np.zeros((1, 2, 2, 3)), np.zeros((3, 3, 3, 4)), 1, "VALID"), ValueError, "larger"),
    (lambda: nn.depthwise_conv2d(np.zeros((1, 5, 5, 3)), np.zeros((3, 3, 2, 1)), 1, "SAME"), ValueError,
     "filter.shape"),
    (lambda: nn.separable_conv2d(np.zeros((1, 5, 5, 3)), np.zeros((3, 3, 3, 1)), np.zeros((1, 1, 2, 4)), 1,
                                 "SAME"), ValueError, "pointwise_filter.shape"),
    (lambda: nn.bias_add(np.zeros((2, 3)), np.zeros(4)), ValueError, r"bias.shape=\(4,\)"),
])
def test_errors_name_received_values(call, error, text):
    with pytest.raises(error, match=text):
        call()

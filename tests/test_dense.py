"""dense forward/backward: float64 reference, epilogue, every ISA, threads bit-identical, finite differences."""
import numpy as np
import pytest

from convlite import _core

from helpers import tensorflow_or_skip, using_threads
import ref_conv as ref

SHAPES = [(1, 1, 1), (3, 7, 5), (13, 37, 19), (32, 100, 10), (65, 17, 129), (2, 300, 3)]


@pytest.mark.parametrize("act,slope", [("linear", 0.0), ("relu", 0.0), ("leaky_relu", 0.1)])
@pytest.mark.parametrize("batch,inp,units", SHAPES)
def test_dense_matches_reference(each_isa, rng, batch, inp, units, act, slope):
    x = rng.standard_normal((batch, inp)).astype(np.float32)
    w = rng.standard_normal((inp, units)).astype(np.float32)
    bias = rng.standard_normal(units).astype(np.float32)
    y = _core.dense(x, w, bias, act, slope)
    want = ref.dense(x, w, bias, act, slope)
    tol = 1e-5 * max(1.0, np.abs(want).max())
    np.testing.assert_allclose(y, want, rtol=1e-5, atol=tol)
    dy = rng.standard_normal(y.shape).astype(np.float32)
    got = _core.dense_backward(x, w, y if act != "linear" else None, dy, True, True, act, slope)
    for g, r in zip(got, ref.dense_grads(x, w, dy, y.astype(np.float64), act, slope)):
        np.testing.assert_allclose(g, r, rtol=1e-5, atol=1e-5 * max(1.0, np.abs(r).max()))


def test_dense_without_bias_or_dx(rng):
    x = rng.standard_normal((4, 6)).astype(np.float32)
    w = rng.standard_normal((6, 3)).astype(np.float32)
    dy = rng.standard_normal((4, 3)).astype(np.float32)
    dx, dw, db = _core.dense_backward(x, w, None, dy, False, False)
    assert dx is None and db is None
    np.testing.assert_allclose(dw, x.T.astype(np.float64) @ dy, rtol=1e-5, atol=1e-5)


def test_dense_gradient_matches_finite_differences(rng):
    x = rng.standard_normal((3, 5)).astype(np.float32)
    w = rng.standard_normal((5, 4)).astype(np.float32)
    r = rng.standard_normal((3, 4))
    y = _core.dense(x, w, None, "leaky_relu", 0.2)
    dx, dw, _ = _core.dense_backward(x, w, y, r.astype(np.float32), False, True, "leaky_relu", 0.2)
    eps = 1e-2
    for arr, grad, idx in [(x, dx, (1, 2)), (w, dw, (4, 3))]:
        plus, minus = arr.copy(), arr.copy()
        plus[idx] += eps
        minus[idx] -= eps
        f = lambda a: float(np.sum(_core.dense(a if arr is x else x, a if arr is w else w, None, "leaky_relu",
                                               0.2) * r))
        assert abs((f(plus) - f(minus)) / (2 * eps) - grad[idx]) < 1e-2


def test_dense_weight_gradient_threads_bit_identical(rng):
    x = rng.standard_normal((20000, 24)).astype(np.float32)
    w = rng.standard_normal((24, 10)).astype(np.float32)
    dy = rng.standard_normal((20000, 10)).astype(np.float32)
    out = []
    for n in (1, 2):
        with using_threads(n):
            out.append(_core.dense_backward(x, w, None, dy, True, True))
    for a, b in zip(*out):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("batch,inp,units", [(64, 1030, 37), (7, 300, 513), (200, 19, 260)])
def test_dense_packed_blocks_match_reference(each_isa, rng, batch, inp, units):
    """K blocks of the packed forward / input gradient, and dw as a transposed-A GEMM (batch is its K)."""
    x = rng.standard_normal((batch, inp)).astype(np.float32)
    w = rng.standard_normal((inp, units)).astype(np.float32)
    bias = rng.standard_normal(units).astype(np.float32)
    y = _core.dense(x, w, bias, "relu")
    want = ref.dense(x, w, bias, "relu", 0.0)
    np.testing.assert_allclose(y, want, rtol=1e-5, atol=1e-5 * np.sqrt(inp) * 4)
    dy = rng.standard_normal(y.shape).astype(np.float32)
    got = _core.dense_backward(x, w, y, dy, True, True, "relu")
    for g, r in zip(got, ref.dense_grads(x, w, dy, y.astype(np.float64), "relu", 0.0)):
        np.testing.assert_allclose(g, r, rtol=1e-5, atol=1e-5 * max(1.0, np.abs(r).max()))


@pytest.mark.parametrize("batch", [8191, 8192])
def test_dense_weight_gradient_on_both_sides_of_the_reduction_switch(rng, batch):
    x = rng.standard_normal((batch, 9)).astype(np.float32)
    w = rng.standard_normal((9, 5)).astype(np.float32)
    dy = rng.standard_normal((batch, 5)).astype(np.float32)
    y = _core.dense(x, w, None, "leaky_relu", 0.3)
    dx, dw, db = _core.dense_backward(x, w, y, dy, True, True, "leaky_relu", 0.3)
    _, rdw, rdb = ref.dense_grads(x, w, dy, y.astype(np.float64), "leaky_relu", 0.3)
    np.testing.assert_allclose(dw, rdw, rtol=1e-4, atol=1e-4 * np.abs(rdw).max())
    np.testing.assert_allclose(db, rdb, rtol=1e-4, atol=1e-4 * np.abs(rdb).max())


@pytest.mark.parametrize("batch,inp,units", [(64, 1024, 512), (61, 1400, 601)])
def test_dense_layer_shape_threads_bit_identical(rng, batch, inp, units):
    """The benchmark's shape and an odd one (above the ~64 MFLOP at which a team of two forms): few rows, so the
    forward reads W in place and threads split its column panels (a partial last panel in the odd case); dw
    splits its rows (the inputs)."""
    x = rng.standard_normal((batch, inp)).astype(np.float32)
    w = rng.standard_normal((inp, units)).astype(np.float32)
    bias = rng.standard_normal(units).astype(np.float32)
    dy = rng.standard_normal((batch, units)).astype(np.float32)
    out = []
    for n in (1, 2):
        with using_threads(n):
            y = _core.dense(x, w, bias, "relu")
            out.append((y, *_core.dense_backward(x, w, y, dy, True, True, "relu")))
    for a, b in zip(*out):
        np.testing.assert_array_equal(a, b)
    want = ref.dense(x, w, bias, "relu", 0.0)
    np.testing.assert_allclose(out[0][0], want, rtol=1e-5, atol=1e-5 * np.sqrt(inp) * 4)


def test_dense_rejects_mismatch():
    with pytest.raises(ValueError, match=r"x.shape=\(2, 3\), w.shape=\(4, 5\)"):
        _core.dense(np.zeros((2, 3), np.float32), np.zeros((4, 5), np.float32))
    with pytest.raises(ValueError, match=r"bias.shape=\(4,\)"):
        _core.dense(np.zeros((2, 3), np.float32), np.zeros((3, 5), np.float32), np.zeros(4, np.float32))
    with pytest.raises(ValueError, match="activation='gelu'"):
        _core.dense(np.zeros((2, 3), np.float32), np.zeros((3, 5), np.float32), None, "gelu")
    with pytest.raises(ValueError, match="y=None"):
        _core.dense_backward(np.zeros((2, 3), np.float32), np.zeros((3, 5), np.float32), None,
                             np.zeros((2, 5), np.float32), True, True, "relu")


@pytest.mark.tensorflow
def test_dense_matches_keras_gradients(rng):
    tf = tensorflow_or_skip()
    x = rng.standard_normal((9, 13)).astype(np.float32)
    w = rng.standard_normal((13, 7)).astype(np.float32)
    b = rng.standard_normal(7).astype(np.float32)
    dy = rng.standard_normal((9, 7)).astype(np.float32)
    xt, wt, bt = tf.constant(x), tf.constant(w), tf.constant(b)
    with tf.GradientTape() as tape:
        tape.watch([xt, wt, bt])
        yt = tf.nn.relu(tf.matmul(xt, wt) + bt)
    grads = tape.gradient(yt, [xt, wt, bt], output_gradients=tf.constant(dy))
    y = _core.dense(x, w, b, "relu")
    np.testing.assert_allclose(y, yt.numpy(), rtol=1e-5, atol=1e-5)
    for g, t in zip(_core.dense_backward(x, w, y, dy, True, True, "relu"), grads):
        np.testing.assert_allclose(g, t.numpy(), rtol=1e-5, atol=1e-5)


# Narrow layers: the forward's row-by-row dot products (units few enough that an NR panel would be mostly empty,
# rows of at least 32: k tails of 1-7 lanes, 4-row and 2-unit blocks with their remainders, k in chunks of 512
# with a tail in the last) and the weight gradient's reduction driver at a small batch (units on the MR side).
NARROW = [(1, 32, 1), (5, 33, 3), (64, 1600, 10), (65, 37, 17), (7, 100, 33), (64, 84, 10), (3, 31, 10),
          (9, 1037, 5)]


@pytest.mark.parametrize("act,slope", [("linear", 0.0), ("relu", 0.0), ("leaky_relu", 0.1)])
@pytest.mark.parametrize("batch,inp,units", NARROW)
def test_dense_narrow_layers_match_reference(each_isa, rng, batch, inp, units, act, slope):
    x = rng.standard_normal((batch, inp)).astype(np.float32)
    w = rng.standard_normal((inp, units)).astype(np.float32)
    bias = rng.standard_normal(units).astype(np.float32)
    y = _core.dense(x, w, bias, act, slope)
    want = ref.dense(x, w, bias, act, slope)
    np.testing.assert_allclose(y, want, rtol=1e-5, atol=1e-5 * np.sqrt(inp) * 4)
    dy = rng.standard_normal(y.shape).astype(np.float32)
    got = _core.dense_backward(x, w, y if act != "linear" else None, dy, True, True, act, slope)
    for g, r in zip(got, ref.dense_grads(x, w, dy, y.astype(np.float64), act, slope)):
        np.testing.assert_allclose(g, r, rtol=1e-5, atol=1e-5 * max(1.0, np.abs(r).max()))
    # without dx the activation mask is applied while dz is packed, not in a pass of its own: same values
    dx, dw, db = _core.dense_backward(x, w, y if act != "linear" else None, dy, True, False, act, slope)
    assert dx is None
    np.testing.assert_array_equal(dw, got[1])
    np.testing.assert_array_equal(db, got[2])


def test_dense_narrow_forward_keeps_nan_through_relu():
    x = np.ones((4, 40), np.float32)
    x[1, 7] = np.nan
    y = _core.dense(x, np.ones((40, 3), np.float32), None, "relu")
    assert np.isnan(y[1]).all() and np.isfinite(np.delete(y, 1, axis=0)).all()


def test_dense_narrow_layer_threads_bit_identical(rng):
    """Large enough for a team of two: the forward splits the batch in 4-row blocks, dw splits its inputs."""
    x = rng.standard_normal((6000, 1000)).astype(np.float32)
    w = rng.standard_normal((1000, 17)).astype(np.float32)
    bias = rng.standard_normal(17).astype(np.float32)
    dy = rng.standard_normal((6000, 17)).astype(np.float32)
    out = []
    for n in (1, 2):
        with using_threads(n):
            y = _core.dense(x, w, bias, "leaky_relu", 0.2)
            out.append((y, *_core.dense_backward(x, w, y, dy, True, True, "leaky_relu", 0.2)))
    for a, b in zip(*out):
        np.testing.assert_array_equal(a, b)

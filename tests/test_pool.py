"""Max / average pooling forward and backward: float64 reference, finite differences, every ISA bit-identical to
scalar, threads 1 vs 2, TensorFlow parity (tf.nn.max_pool2d / avg_pool2d / pool with GradientTape)."""
import numpy as np
import pytest

from convlite import _core

from helpers import simd_isas, tensorflow_or_skip, using_isa, using_threads
import ref_pool as ref

# (input shape, pool, strides, padding): disjoint and overlapping windows, tails in channels (1, 3, 9, 17),
# 'same' with the extra pad at the end, explicit pads, stride > pool.
CASES = [
    ((2, 6, 6, 8), (2, 2), (2, 2), "valid"),
    ((2, 7, 5, 3), (2, 2), (2, 2), "same"),
    ((1, 7, 7, 9), (3, 3), (2, 2), "same"),
    ((2, 5, 6, 17), (3, 2), (1, 1), "valid"),
    ((1, 8, 9, 1), (2, 3), (3, 2), (1, 1, 0, 2)),
    ((3, 4, 4, 16), (2, 2), (3, 3), "valid"),
    ((1, 1, 11, 5), (1, 3), (1, 2), "same"),  # a 1D pool as 2D with height 1
]
IDS = [f"{s}-{p}-{st}-{pad}" for s, p, st, pad in CASES]


def geometry(shape, pool, strides, padding):
    return dict(pool=pool, strides=strides, padding=ref.pool_padding(shape[1:3], pool, strides, padding))


def data(rng, shape):
    # Distinct values (no ties) unless a test wants ties.
    return (rng.permutation(int(np.prod(shape))).reshape(shape) / 7.0 - 3.0).astype(np.float32)


@pytest.mark.parametrize("shape, pool, strides, padding", CASES, ids=IDS)
def test_max_pool_matches_reference(each_isa, rng, shape, pool, strides, padding):
    g = geometry(shape, pool, strides, padding)
    x = data(rng, shape)
    y, argmax = _core.max_pool2d(x, return_argmax=True, **g)
    ry, rarg = ref.max_pool2d(x, g["pool"], g["strides"], g["padding"])
    np.testing.assert_array_equal(y, ry)
    np.testing.assert_array_equal(argmax, rarg)
    np.testing.assert_array_equal(_core.max_pool2d(x, **g), y)
    dy = rng.standard_normal(y.shape).astype(np.float32)
    expected = ref.max_pool2d_backward(rarg, dy, shape)
    np.testing.assert_allclose(_core.max_pool2d_backward(argmax, dy, shape, **g), expected, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(_core.max_pool2d_backward(argmax, dy, shape), expected, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("shape, pool, strides, padding", CASES, ids=IDS)
def test_avg_pool_matches_reference(each_isa, rng, shape, pool, strides, padding):
    g = geometry(shape, pool, strides, padding)
    x = rng.standard_normal(shape).astype(np.float32)
    y = _core.avg_pool2d(x, **g)
    np.testing.assert_allclose(y, ref.avg_pool2d(x, g["pool"], g["strides"], g["padding"]), rtol=1e-6, atol=1e-6)
    dy = rng.standard_normal(y.shape).astype(np.float32)
    np.testing.assert_allclose(_core.avg_pool2d_backward(dy, shape, **g),
                               ref.avg_pool2d_backward(dy, shape, g["pool"], g["strides"], g["padding"]),
                               rtol=1e-6, atol=1e-6)


def test_ties_go_to_the_first_cell_in_row_major_order():
    x = np.zeros((1, 2, 2, 3), np.float32)
    x[0, 1, 0, 1] = x[0, 1, 1, 1] = 5.0
    _, argmax = _core.max_pool2d(x, (2, 2), return_argmax=True)
    np.testing.assert_array_equal(argmax[0, 0, 0], [0, 2, 0])


@pytest.mark.parametrize("kind", ["max", "avg"])
@pytest.mark.parametrize("shape, pool, strides, padding", CASES[1:3], ids=IDS[1:3])
def test_backward_matches_finite_differences(rng, kind, shape, pool, strides, padding):
    g = geometry(shape, pool, strides, padding)
    x = data(rng, shape).astype(np.float64)
    fwd = _core.max_pool2d if kind == "max" else _core.avg_pool2d
    y, argmax = _core.max_pool2d(x.astype(np.float32), return_argmax=True, **g)
    dy = rng.standard_normal(y.shape)
    h = 0.05  # values are 1/7 apart: no winner changes; float32 rounding of x + h stays below 1e-3 relative
    numeric = np.zeros_like(x)
    for i in np.ndindex(shape):
        e = np.zeros_like(x)
        e[i] = h
        plus = fwd((x + e).astype(np.float32), **g).astype(np.float64)
        minus = fwd((x - e).astype(np.float32), **g).astype(np.float64)
        numeric[i] = np.sum(dy * (plus - minus)) / (2 * h)
    if kind == "max":
        got = _core.max_pool2d_backward(argmax, dy.astype(np.float32), shape, **g)
    else:
        got = _core.avg_pool2d_backward(dy.astype(np.float32), shape, **g)
    np.testing.assert_allclose(got, numeric, rtol=1e-3, atol=1e-3)


@pytest.mark.parametrize("isa", simd_isas())
@pytest.mark.parametrize("shape, pool, strides, padding", CASES, ids=IDS)
def test_simd_is_bit_identical_to_scalar(rng, isa, shape, pool, strides, padding):
    g = geometry(shape, pool, strides, padding)
    x = rng.standard_normal(shape).astype(np.float32)
    x.flat[::5] = 0.5  # ties
    dy = rng.standard_normal(_core.avg_pool2d(x, **g).shape).astype(np.float32)

    def run():
        y, argmax = _core.max_pool2d(x, return_argmax=True, **g)
        return (y, argmax, _core.max_pool2d_backward(argmax, dy, shape, **g), _core.avg_pool2d(x, **g),
                _core.avg_pool2d_backward(dy, shape, **g))

    with using_isa("scalar"):
        expected = run()
    with using_isa(isa):
        got = run()
    for e, r in zip(expected, got):
        np.testing.assert_array_equal(r, e)


@pytest.mark.parametrize("pool, strides", [((2, 2), (2, 2)), ((3, 3), (1, 1)), ((3, 3), (2, 2))])
def test_threads_give_identical_results(rng, pool, strides):
    shape = (4, 33, 31, 24)
    g = dict(pool=pool, strides=strides, padding=ref.pool_padding(shape[1:3], pool, strides, "same"))
    x = rng.standard_normal(shape).astype(np.float32)
    dy = rng.standard_normal(_core.avg_pool2d(x, **g).shape).astype(np.float32)

    def run():
        y, argmax = _core.max_pool2d(x, return_argmax=True, **g)
        return (y, argmax, _core.max_pool2d_backward(argmax, dy, shape, **g),
                _core.max_pool2d_backward(argmax, dy, shape), _core.avg_pool2d(x, **g),
                _core.avg_pool2d_backward(dy, shape, **g))

    with using_threads(1):
        one = run()
    with using_threads(2):
        two = run()
    for a, b in zip(one, two):
        np.testing.assert_array_equal(a, b)


# ------------------------------------------------------------------ global pooling
@pytest.mark.parametrize("shape", [(1, 1, 1), (2, 9, 3), (3, 49, 17), (2, 5, 64)])
def test_global_pooling(each_isa, rng, shape):
    x = rng.standard_normal(shape).astype(np.float32)
    np.testing.assert_allclose(_core.global_pool(x, "avg"), x.astype(np.float64).mean(axis=1), rtol=1e-6, atol=1e-6)
    y, argmax = _core.global_pool(x, "max", return_argmax=True)
    np.testing.assert_array_equal(y, x.max(axis=1))
    np.testing.assert_array_equal(argmax, x.argmax(axis=1))
    dy = rng.standard_normal((shape[0], shape[2])).astype(np.float32)
    np.testing.assert_allclose(_core.global_pool_backward(dy, shape, "avg"),
                               np.broadcast_to(dy[:, None, :] / shape[1], shape), rtol=1e-6)
    expected = np.zeros(shape, np.float32)
    for b in range(shape[0]):
        expected[b, argmax[b], np.arange(shape[2])] = dy[b]
    np.testing.assert_array_equal(_core.global_pool_backward(dy, shape, "max", argmax), expected)


@pytest.mark.parametrize("isa", simd_isas())
@pytest.mark.parametrize("shape", [(3, 37, 64), (2, 25, 70), (5, 9, 130), (3, 11, 5)])
def test_global_average_simd_and_threads_are_bit_identical_to_scalar(rng, isa, shape):
    """Eight channel vectors sum in registers (64 channels on AVX2, 128 on AVX-512), the rest one vector at a
    time: every channel still adds its positions in order, so every tier and thread count agrees bit for bit."""
    x = rng.standard_normal(shape).astype(np.float32)
    with using_isa("scalar"):
        want = _core.global_pool(x, "avg")
    with using_isa(isa), using_threads(1):
        one = _core.global_pool(x, "avg")
    with using_isa(isa), using_threads(2):
        two = _core.global_pool(x, "avg")
    np.testing.assert_array_equal(one, want)
    np.testing.assert_array_equal(two, want)


# ------------------------------------------------------------------ argument errors
@pytest.mark.parametrize("call, error, text", [
    (lambda x: _core.max_pool2d(x, (2, 2), padding=(2, 0, 0, 0)), ValueError, "padding=(2, 0, 0, 0)"),
    (lambda x: _core.max_pool2d(x, (9, 2)), ValueError, "pool=(9, 2)"),
    (lambda x: _core.max_pool2d(x, (0, 2)), ValueError, "pool=(0, 2)"),
    (lambda x: _core.max_pool2d(x, (2, 2), strides=(1,)), ValueError, "strides=(1,)"),
    (lambda x: _core.avg_pool2d(x, "2"), ValueError, "pool='2'"),
    (lambda x: _core.avg_pool2d(x[0], (2, 2)), ValueError, "x.shape=(4, 4, 3)"),
    (lambda x: _core.max_pool2d_backward(np.full((1, 2, 2, 3), 99, np.int32), np.ones((1, 2, 2, 3), np.float32),
                                         (1, 4, 4, 3)), ValueError, "argmax.flat[0]=99"),
    (lambda x: _core.max_pool2d_backward(np.zeros((1, 2, 2, 3), np.int64), np.ones((1, 2, 2, 3), np.float32),
                                         (1, 4, 4, 3)), TypeError, "argmax.dtype=int64"),
    (lambda x: _core.avg_pool2d_backward(np.ones((1, 3, 2, 3), np.float32), (1, 4, 4, 3), (2, 2)), ValueError,
     "dy.shape=(1, 3, 2, 3)"),
    (lambda x: _core.global_pool(x[0], "min"), ValueError, "kind='min'"),
    (lambda x: _core.global_pool_backward(np.ones((1, 3), np.float32), (1, 16, 3), "max"), ValueError, "argmax=None"),
    (lambda x: _core.global_pool_backward(np.ones((1, 3), np.float32), (1, 16, 3), "max",
                                          np.full((1, 3), 16, np.int32)), ValueError, "argmax.flat[0]=16"),
    (lambda x: _core.max_pool2d(np.zeros((1, 0, 4, 3), np.float32), (1, 1)), ValueError, "(1, 0, 4, 3)"),
])
def test_errors_name_the_received_value(call, error, text):
    x = np.zeros((1, 4, 4, 3), np.float32)
    with pytest.raises(error, match="Received") as info:
        call(x)
    assert text in str(info.value)


def test_empty_batch_and_channels_are_fine():
    for shape in [(0, 4, 4, 3), (2, 4, 4, 0)]:
        x = np.zeros(shape, np.float32)
        y, argmax = _core.max_pool2d(x, (2, 2), return_argmax=True)
        assert y.shape == (shape[0], 2, 2, shape[3])
        assert _core.max_pool2d_backward(argmax, y, shape, (2, 2)).shape == shape
        assert _core.avg_pool2d_backward(y, shape, (2, 2)).shape == shape


# ------------------------------------------------------------------ TensorFlow parity
@pytest.mark.tensorflow
@pytest.mark.parametrize("kind", ["max", "avg"])
@pytest.mark.parametrize("shape, pool, strides, padding", [c for c in CASES if isinstance(c[3], str)],
                         ids=[i for i, c in zip(IDS, CASES) if isinstance(c[3], str)])
def test_matches_tensorflow_with_gradients(rng, kind, shape, pool, strides, padding):
    tf = tensorflow_or_skip()
    x = data(rng, shape)
    xt = tf.constant(x)
    op = tf.nn.max_pool2d if kind == "max" else tf.nn.avg_pool2d
    with tf.GradientTape() as tape:
        tape.watch(xt)
        yt = op(xt, ksize=pool, strides=strides, padding=padding.upper())
    dy = rng.standard_normal(yt.shape).astype(np.float32)
    gt = tape.gradient(yt, xt, output_gradients=tf.constant(dy)).numpy()
    g = geometry(shape, pool, strides, padding)
    if kind == "max":
        y, argmax = _core.max_pool2d(x, return_argmax=True, **g)
        dx = _core.max_pool2d_backward(argmax, dy, shape, **g)
    else:
        y = _core.avg_pool2d(x, **g)
        dx = _core.avg_pool2d_backward(dy, shape, **g)
    np.testing.assert_allclose(y, yt.numpy(), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(dx, gt, rtol=1e-5, atol=1e-6)


@pytest.mark.tensorflow
def test_global_pooling_matches_tensorflow(rng):
    tf = tensorflow_or_skip()
    x = rng.standard_normal((3, 10, 7)).astype(np.float32)
    dy = rng.standard_normal((3, 7)).astype(np.float32)
    xt = tf.constant(x)
    for kind, op in [("avg", tf.reduce_mean), ("max", tf.reduce_max)]:
        with tf.GradientTape() as tape:
            tape.watch(xt)
            yt = op(xt, axis=1)
        gt = tape.gradient(yt, xt, output_gradients=tf.constant(dy)).numpy()
        y, argmax = (_core.global_pool(x, kind), None) if kind == "avg" else _core.global_pool(x, kind, True)
        np.testing.assert_allclose(y, yt.numpy(), rtol=1e-6, atol=1e-6)
        np.testing.assert_allclose(_core.global_pool_backward(dy, x.shape, kind, argmax), gt, rtol=1e-6, atol=1e-7)

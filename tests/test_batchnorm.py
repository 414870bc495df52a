"""Batch normalization kernels: float64 reference, finite differences, ISA bit-identity, threads, Keras parity."""
import numpy as np
import pytest

from convlite import _core

from helpers import simd_isas, tensorflow_or_skip, using_isa, using_threads
import ref_train as ref

SHAPES = [(2, 1), (5, 3), (37, 8), (33, 17), (100, 1), (3, 4, 5, 19), (9, 40)]


def params(rng, c, center=True, scale=True):
    gamma = rng.uniform(0.5, 1.5, c).astype(np.float32) if scale else None
    beta = rng.standard_normal(c).astype(np.float32) if center else None
    return gamma, beta, rng.standard_normal(c).astype(np.float32), rng.uniform(0.5, 2, c).astype(np.float32)


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("center, scale", [(True, True), (False, False), (True, False)])
def test_training_forward_and_moving_statistics(each_isa, rng, shape, center, scale):
    x = (rng.standard_normal(shape) * 3 + 2).astype(np.float32)
    c = shape[-1]
    gamma, beta, mm, mv = params(rng, c, center, scale)
    mm0, mv0 = mm.copy(), mv.copy()
    y, saved_mean, saved_inv = _core.batch_norm_forward(x, gamma, beta, mm, mv, momentum=0.99, epsilon=1e-3,
                                                        training=True)
    y64, mean, var = ref.batch_norm_training(x.reshape(-1, c), gamma, beta, 1e-3)
    np.testing.assert_allclose(y, y64.reshape(shape), rtol=1e-5, atol=2e-5)
    np.testing.assert_allclose(saved_mean, mean, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(saved_inv, 1 / np.sqrt(var + 1e-3), rtol=1e-6)
    np.testing.assert_allclose(mm, mm0 * 0.99 + mean * 0.01, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(mv, mv0 * 0.99 + var * 0.01, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_inference_uses_moving_statistics(each_isa, rng, shape):
    x = rng.standard_normal(shape).astype(np.float32)
    gamma, beta, mm, mv = params(rng, shape[-1])
    y, none_mean, none_inv = _core.batch_norm_forward(x, gamma, beta, mm, mv, epsilon=1e-3, training=False)
    expected = gamma * (x.astype(np.float64) - mm) / np.sqrt(mv.astype(np.float64) + 1e-3) + beta
    np.testing.assert_allclose(y, expected, rtol=1e-5, atol=1e-5)
    assert none_mean is None and none_inv is None


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("scale", [True, False])
def test_backward_matches_float64_reference(each_isa, rng, shape, scale):
    x = (rng.standard_normal(shape) * 2 - 1).astype(np.float32)
    c = shape[-1]
    gamma, beta, mm, mv = params(rng, c, True, scale)
    dy = rng.standard_normal(shape).astype(np.float32)
    _, saved_mean, saved_inv = _core.batch_norm_forward(x, gamma, beta, mm, mv, training=True)
    dx, dgamma, dbeta = _core.batch_norm_backward(x, gamma, saved_mean, saved_inv, dy)
    rdx, rdgamma, rdbeta = ref.batch_norm_backward(x.reshape(-1, c), gamma, dy.reshape(-1, c), 1e-3)
    np.testing.assert_allclose(dx, rdx.reshape(shape), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(dgamma, rdgamma, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(dbeta, rdbeta, rtol=1e-5, atol=1e-5)


def test_reference_backward_matches_finite_differences(rng):
    x = rng.standard_normal((7, 3))
    gamma = rng.uniform(0.5, 1.5, 3)
    w = rng.standard_normal((7, 3))
    objective = lambda xx, gg: float((ref.batch_norm_training(xx, gg, None, 1e-3)[0] * w).sum())  # noqa: E731
    dx, dgamma, _ = ref.batch_norm_backward(x, gamma, w, 1e-3)
    h = 1e-6
    for idx in np.ndindex(x.shape):
        e = np.zeros_like(x)
        e[idx] = h
        assert (objective(x + e, gamma) - objective(x - e, gamma)) / (2 * h) == pytest.approx(dx[idx], abs=1e-6)
    for i in range(3):
        e = np.zeros(3)
        e[i] = h
        assert (objective(x, gamma + e) - objective(x, gamma - e)) / (2 * h) == pytest.approx(dgamma[i], abs=1e-6)


def run_everything(x, gamma, beta, dy):
    c = x.shape[-1]
    mm, mv = np.zeros(c, np.float32), np.ones(c, np.float32)
    y, sm, si = _core.batch_norm_forward(x, gamma, beta, mm, mv, training=True)
    yi, _, _ = _core.batch_norm_forward(x, gamma, beta, mm, mv, training=False)
    return [y, sm, si, mm, mv, yi, *_core.batch_norm_backward(x, gamma, sm, si, dy)]


@pytest.mark.parametrize("isa", simd_isas())
@pytest.mark.parametrize("rows, c", [(2001, 3), (517, 8), (300, 19), (129, 64), (5000, 1), (301, 45), (77, 24)])
def test_simd_is_bit_identical_to_scalar(rng, isa, rows, c):
    x = (rng.standard_normal((rows, c)) + 1).astype(np.float32)
    dy = rng.standard_normal((rows, c)).astype(np.float32)
    gamma, beta, _, _ = params(rng, c)
    with using_isa("scalar"):
        expected = run_everything(x, gamma, beta, dy)
    with using_isa(isa):
        got = run_everything(x, gamma, beta, dy)
    for e, g in zip(expected, got):
        np.testing.assert_array_equal(g.view(np.uint32), e.view(np.uint32))


def test_threads_give_identical_results(rng):
    x = rng.standard_normal((40000, 24)).astype(np.float32)
    dy = rng.standard_normal(x.shape).astype(np.float32)
    gamma, beta, _, _ = params(rng, 24)
    with using_threads(1):
        one = run_everything(x, gamma, beta, dy)
    with using_threads(2):
        two = run_everything(x, gamma, beta, dy)
    for a, b in zip(one, two):
        np.testing.assert_array_equal(a, b)


def f32(*shape):
    return np.zeros(shape, np.float32)


@pytest.mark.parametrize("call, text", [
    (lambda: _core.batch_norm_forward(f32(4), None, None, f32(4), f32(4)), r"x.shape=\(4,\)"),
    (lambda: _core.batch_norm_forward(f32(2, 3), f32(4), None, f32(3), f32(3)), r"gamma.shape=\(4,\)"),
    (lambda: _core.batch_norm_forward(f32(2, 3), None, None, f32(3), f32(2)), r"moving_var.shape=\(2,\)"),
    (lambda: _core.batch_norm_forward(f32(0, 3), None, None, f32(3), f32(3), training=True), r"x.shape=\(0, 3\)"),
    (lambda: _core.batch_norm_backward(f32(2, 3), None, f32(3), f32(3), f32(3, 2)), r"dy.shape=\(3, 2\)"),
])
def test_bad_arguments_raise_named_errors(call, text):
    with pytest.raises(ValueError, match=text):
        call()


def test_training_needs_writable_moving_statistics():
    mm = f32(3)
    mm.setflags(write=False)
    _core.batch_norm_forward(f32(2, 3), None, None, mm, f32(3), training=False)  # reading is fine
    with pytest.raises(ValueError, match="writable"):
        _core.batch_norm_forward(f32(2, 3), None, None, mm, f32(3), training=True)


@pytest.mark.tensorflow
@pytest.mark.parametrize("shape", [(8, 5), (4, 6, 7), (2, 5, 3, 6)], ids=str)
@pytest.mark.parametrize("center, scale", [(True, True), (False, False)])
def test_matches_keras_batch_normalization(rng, shape, center, scale):
    tf = tensorflow_or_skip()
    import keras

    c = shape[-1]
    x = (rng.standard_normal(shape) * 2 + 0.5).astype(np.float32)
    dy = rng.standard_normal(shape).astype(np.float32)
    gamma, beta, mm, mv = params(rng, c, center, scale)
    layer = keras.layers.BatchNormalization(center=center, scale=scale)
    layer.build(shape)
    layer.set_weights([w for w in (gamma, beta) if w is not None] + [mm, mv])
    xt = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(xt)
        yt = layer(xt, training=True)
    grads = tape.gradient(yt, [xt] + layer.trainable_weights, output_gradients=tf.constant(dy))
    k_mm, k_mv = layer.moving_mean.numpy(), layer.moving_variance.numpy()

    our_mm, our_mv = mm.copy(), mv.copy()
    y, sm, si = _core.batch_norm_forward(x, gamma, beta, our_mm, our_mv, momentum=0.99, epsilon=1e-3, training=True)
    dx, dgamma, dbeta = _core.batch_norm_backward(x, gamma, sm, si, dy)
    np.testing.assert_allclose(y, yt.numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(our_mm, k_mm, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(our_mv, k_mv, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(dx, grads[0].numpy(), rtol=1e-4, atol=1e-5)
    if scale:
        np.testing.assert_allclose(dgamma, grads[1].numpy(), rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(dbeta, grads[2].numpy(), rtol=1e-5, atol=1e-5)

    y_inf, _, _ = _core.batch_norm_forward(x, gamma, beta, our_mm, our_mv, epsilon=1e-3, training=False)
    np.testing.assert_allclose(y_inf, layer(x, training=False).numpy(), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("shape", [(5, 3), (4, 6, 17)], ids=str)
@pytest.mark.parametrize("scale", [True, False])
def test_inference_backward_matches_float64(each_isa, rng, shape, scale):
    x = rng.standard_normal(shape).astype(np.float32)
    dy = rng.standard_normal(shape).astype(np.float32)
    gamma, _, mm, mv = params(rng, shape[-1], True, scale)
    dx, dgamma, dbeta = _core.batch_norm_backward_inference(x, gamma, mm, mv, dy, epsilon=1e-3)
    inv = 1 / np.sqrt(mv.astype(np.float64) + 1e-3)
    g = 1.0 if gamma is None else gamma.astype(np.float64)
    np.testing.assert_allclose(dx, dy * g * inv, rtol=1e-6, atol=1e-7)
    xhat = (x.astype(np.float64) - mm) * inv
    axes = tuple(range(len(shape) - 1))
    np.testing.assert_allclose(dgamma, (dy * xhat).sum(axes), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(dbeta, dy.astype(np.float64).sum(axes), rtol=1e-5, atol=1e-5)


@pytest.mark.tensorflow
def test_inference_backward_matches_keras(rng):
    tf = tensorflow_or_skip()
    import keras

    shape = (6, 4, 5)
    x = rng.standard_normal(shape).astype(np.float32)
    dy = rng.standard_normal(shape).astype(np.float32)
    gamma, beta, mm, mv = params(rng, 5)
    layer = keras.layers.BatchNormalization()
    layer.build(shape)
    layer.set_weights([gamma, beta, mm, mv])
    xt = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(xt)
        yt = layer(xt, training=False)
    kdx, kdgamma, kdbeta = tape.gradient(yt, [xt] + layer.trainable_weights, output_gradients=tf.constant(dy))
    dx, dgamma, dbeta = _core.batch_norm_backward_inference(x, gamma, mm, mv, dy)
    np.testing.assert_allclose(dx, kdx.numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(dgamma, kdgamma.numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(dbeta, kdbeta.numpy(), rtol=1e-5, atol=1e-5)

"""separable_conv2d (depthwise then pointwise 1x1, fused per tile): float64 reference over a grid (odd sizes, dm 1-3,
strides, dilation, every padding kind, batch 1, wide rows that split into column tiles), every SIMD tier against
scalar, threads 1 vs 2 bit-identical, the fused result against the unfused ops, finite differences, the model
layers' training step, TensorFlow parity and bad-input errors."""
import numpy as np
import pytest

import convlite
from convlite import _core, _nn_conv, layers, nn, optimizers

from helpers import close, simd_isas, tensorflow_or_skip, using_isa, using_threads
import ref_separable as ref

# (batch, H, W, C, dm, F, kh, kw, strides, dilations, pads as (top, bottom, left, right))
CASES = [
    (1, 5, 5, 1, 1, 1, 1, 1, (1, 1), (1, 1), (0, 0, 0, 0)),
    (2, 9, 11, 3, 1, 7, 3, 3, (1, 1), (1, 1), (1, 1, 1, 1)),       # same
    (1, 8, 9, 17, 1, 19, 3, 3, (2, 2), (1, 1), (0, 1, 1, 1)),      # tails on both sides of the GEMM tile
    (2, 6, 8, 5, 3, 9, 3, 2, (1, 2), (1, 1), (1, 1, 0, 1)),        # depth multiplier 3
    (1, 7, 7, 4, 2, 33, 5, 5, (1, 1), (2, 2), (4, 4, 4, 4)),       # dm 2, dilated, full padding
    (1, 10, 9, 8, 1, 16, 3, 3, (3, 3), (2, 1), (2, 1, 0, 3)),      # stride and dilation together
    (1, 3, 3, 5, 2, 6, 3, 3, (1, 1), (1, 1), (4, 4, 4, 4)),        # windows wholly in the padding
    (3, 1, 31, 6, 1, 11, 1, 5, (1, 2), (1, 1), (0, 0, 4, 0)),      # 1-D causal, strided
    (1, 1, 300, 64, 1, 10, 1, 3, (1, 1), (1, 1), (0, 0, 1, 1)),    # 1-D row wider than a tile: column tiles
    (2, 1, 200, 30, 3, 7, 1, 7, (1, 1), (1, 3), (0, 0, 18, 0)),    # column tiles with dm 3, dilated causal
    (2, 14, 13, 40, 1, 24, 3, 3, (1, 1), (1, 1), (1, 1, 1, 1)),    # several row tiles per image
]
ACTS = [("linear", 0.0), ("relu", 0.0), ("leaky_relu", 0.3)]


def _out(n, k, s, d, before, after):
    return (n + before + after - d * (k - 1) - 1) // s + 1


def _inputs(rng, case, bias=True):
    b, h, w, c, dm, f, kh, kw, st, dl, pad = case
    x = rng.standard_normal((b, h, w, c)).astype(np.float32)
    dw = rng.standard_normal((kh, kw, c, dm)).astype(np.float32)
    pw = (rng.standard_normal((c * dm, f)) / np.sqrt(c * dm)).astype(np.float32)
    bias = rng.standard_normal(f).astype(np.float32) if bias else None
    oh, ow = _out(h, kh, st[0], dl[0], *pad[:2]), _out(w, kw, st[1], dl[1], *pad[2:])
    dy = rng.standard_normal((b, oh, ow, f)).astype(np.float32)
    return x, dw, pw, bias, dy


def _forward(x, dw, pw, bias, case, act="linear", slope=0.0, **kw):
    st, dl, pad = case[8:]
    return _core.separable_conv2d(x, dw, pw, bias, st, dl, pad, act, slope, **kw)


def _backward(x, dw, pw, y, dy, case, act="linear", slope=0.0, mid=None, has_bias=True):
    st, dl, pad = case[8:]
    return _core.separable_conv2d_backward(x, dw, pw, y if act != "linear" else None, dy, mid, st, dl, pad,
                                           has_bias, True, act, slope)


@pytest.mark.parametrize("act,slope", ACTS)
@pytest.mark.parametrize("case", CASES, ids=[str(i) for i in range(len(CASES))])
def test_matches_reference(each_isa, rng, case, act, slope):
    st, dl, pad = case[8:]
    x, dw, pw, bias, dy = _inputs(rng, case)
    y, mid = _forward(x, dw, pw, bias, case, act, slope, return_mid=True)
    want = ref.separable2d(x, dw, pw, bias, st, dl, pad, act, slope)
    assert y.shape == want.shape
    close(y, want)
    close(mid, ref.ref.depthwise2d(x, dw, None, st, dl, pad))
    cached = _forward(x, dw, pw, bias, case, act, slope)  # tiles kept in cache, not written out
    if case[4] == 1:
        np.testing.assert_array_equal(cached, y)
    else:  # dm > 1 runs multiplier-major when nothing is stored: the pointwise sum in another order
        close(cached, want)
    got = _backward(x, dw, pw, y, dy, case, act, slope, mid=mid)
    for g, r in zip(got, ref.separable2d_grads(x, dw, pw, dy, st, dl, pad, y.astype(np.float64), act, slope)):
        close(g, r, 5e-5)
    for g, r in zip(_backward(x, dw, pw, y, dy, case, act, slope), got):  # mid recomputed: the same numbers
        np.testing.assert_array_equal(g, r)


@pytest.mark.parametrize("case", CASES[1:], ids=[str(i) for i in range(1, len(CASES))])
def test_simd_tiers_agree_with_scalar(rng, case):
    if not simd_isas():
        pytest.skip("no SIMD tier on this machine")
    x, dw, pw, bias, dy = _inputs(rng, case)
    with using_isa("scalar"):
        want = _forward(x, dw, pw, bias, case, "relu")
        want_grads = _backward(x, dw, pw, want, dy, case, "relu")
    for isa in simd_isas():
        with using_isa(isa):
            y = _forward(x, dw, pw, bias, case, "relu")
            close(y, want, 1e-5)
            for g, r in zip(_backward(x, dw, pw, y, dy, case, "relu"), want_grads):
                close(g, r, 5e-5)


@pytest.mark.parametrize("case", [(4, 48, 48, 48, 1, 96, 3, 3, (1, 1), (1, 1), (1, 1, 1, 1)),
                                  (4, 40, 40, 24, 2, 96, 3, 3, (1, 1), (1, 1), (1, 1, 1, 1))], ids=["dm1", "dm2"])
def test_threads_bit_identical(rng, case):  # both shapes are enough work for a team of two
    x, dw, pw, bias, dy = _inputs(rng, case)
    results = []
    for threads in (1, 2):
        with using_threads(threads):
            y, mid = _forward(x, dw, pw, bias, case, "relu", return_mid=True)
            cached = _forward(x, dw, pw, bias, case, "relu")
            results.append((y, mid, cached, *_backward(x, dw, pw, y, dy, case, "relu", mid=mid)))
    for a, b in zip(*results):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("case", [CASES[2], CASES[3], CASES[10]], ids=["stride2", "dm3", "rows"])
def test_fused_equals_unfused_ops(rng, case):
    st, dl, pad = case[8:]
    x, dw, pw, bias, _ = _inputs(rng, case)
    mid = _core.depthwise2d(x, dw, None, st, dl, pad)
    unfused = _core.conv2d(mid, pw[None, None], bias, activation="relu")
    y, fused_mid = _forward(x, dw, pw, bias, case, "relu", return_mid=True)
    np.testing.assert_array_equal(fused_mid, mid)  # the same depthwise kernel per pixel
    close(y, unfused, 1e-6)


def test_pointwise_kernel_in_keras_layout(rng):
    case = CASES[3]
    x, dw, pw, bias, _ = _inputs(rng, case)
    np.testing.assert_array_equal(_forward(x, dw, pw[None, None], bias, case), _forward(x, dw, pw, bias, case))


# The pointwise input gradient is formed inside the weight-gradient reduction as it packs dy; asking for only some
# gradients (the reduction then forms no dW, or no db, or only the masked rows) must give the same bits.
@pytest.mark.parametrize("act,slope", ACTS)
@pytest.mark.parametrize("case", [CASES[2], CASES[3], CASES[10]], ids=["stride2", "dm3", "rows"])
def test_partial_gradients_equal_the_full_ones(rng, case, act, slope):
    st, dl, pad = case[8:]
    x, dw, pw, bias, dy = _inputs(rng, case)
    y = _forward(x, dw, pw, bias, case, act, slope)
    yy = y if act != "linear" else None
    full = _backward(x, dw, pw, y, dy, case, act, slope)
    for has_bias, need_dx, need_dw in [(False, True, False), (True, True, False), (False, True, True),
                                       (True, False, True), (False, False, True)]:
        got = _core.separable_conv2d_backward(x, dw, pw, yy, dy, None, st, dl, pad, has_bias, need_dx, act, slope,
                                              need_dw)
        wanted = (need_dx, need_dw, need_dw, has_bias)
        for g, f, want in zip(got, full, wanted):
            if want:
                np.testing.assert_array_equal(g, f)
            else:
                assert g is None


def test_finite_differences(rng):
    case = (1, 5, 6, 3, 2, 4, 3, 2, (2, 1), (1, 1), (1, 1, 0, 1))
    x, dw, pw, bias, dy = _inputs(rng, case)
    # loss = sum(y * dy) with leaky relu; float32 forward, central differences, loose tolerance.
    loss = lambda xx, dd, pp, bb: float(np.sum(_forward(xx, dd, pp, bb, case, "leaky_relu", 0.2)
                                              .astype(np.float64) * dy))
    y = _forward(x, dw, pw, bias, case, "leaky_relu", 0.2)
    grads = _backward(x, dw, pw, y, dy, case, "leaky_relu", 0.2)
    params = [x, dw, pw, bias]
    eps = 1e-2
    for which, grad in enumerate(grads):
        flat = params[which].reshape(-1)
        for i in rng.choice(flat.size, size=min(6, flat.size), replace=False):
            old = flat[i]
            flat[i] = old + eps
            up = loss(*params)
            flat[i] = old - eps
            down = loss(*params)
            flat[i] = old
            assert grad.reshape(-1)[i] == pytest.approx((up - down) / (2 * eps), rel=2e-2, abs=2e-2)


@pytest.mark.parametrize("rank", [1, 2])
def test_model_training_step_uses_the_reference_gradients(rng, rank):
    shape = (11, 5) if rank == 1 else (7, 9, 5)
    cls = layers.SeparableConv1D if rank == 1 else layers.SeparableConv2D
    layer = cls(6, 3, padding="same", depth_multiplier=2, activation="relu")
    model = convlite.Sequential([convlite.Input(shape), layer])
    lr = 0.1
    model.compile(optimizers.SGD(learning_rate=lr), "mse")
    x = rng.standard_normal((3,) + shape).astype(np.float32)
    t = rng.standard_normal((3,) + shape[:-1] + (6,)).astype(np.float32)
    dw, pw, bias = [w.copy() for w in layer.get_weights()]
    bias[:] = rng.standard_normal(6).astype(np.float32) * 0.1
    layer.set_weights([dw, pw, bias])
    x4 = x[:, None] if rank == 1 else x
    pad = (0, 0, 1, 1) if rank == 1 else (1, 1, 1, 1)
    dw4 = dw[None] if rank == 1 else dw
    y = ref.separable2d(x4, dw4, pw.reshape(10, 6), bias, padding=pad, act="relu")
    np.testing.assert_allclose(model.predict(x, verbose=0), y[:, 0] if rank == 1 else y, rtol=1e-4, atol=1e-5)
    dy = 2 * (y - (t[:, None] if rank == 1 else t)) / y.size
    _, ddw, dpw, db = ref.separable2d_grads(x4, dw4, pw.reshape(10, 6), dy, padding=pad, y=y, act="relu")
    model.train_on_batch(x, t)
    new = layer.get_weights()
    for before, after, grad in zip((dw, pw, bias), new, (ddw.reshape(dw.shape), dpw.reshape(pw.shape), db)):
        np.testing.assert_allclose(after, before - lr * grad, rtol=1e-4, atol=1e-6)


@pytest.mark.tensorflow
def test_matches_tensorflow(rng):
    tf = tensorflow_or_skip()
    for case, padding in [((2, 9, 11, 3, 2, 7, 3, 3, (1, 1), (1, 1), None), "SAME"),
                          ((1, 12, 10, 5, 1, 8, 3, 3, (2, 2), (1, 1), None), "VALID"),
                          ((1, 11, 13, 4, 3, 5, 3, 3, (1, 1), (2, 2), None), "SAME")]:
        x, dw, pw, _, _ = _inputs(rng, case[:10] + ((0, 0, 0, 0),), bias=False)
        st, dl = case[8], case[9]
        xt, dwt, pwt = tf.constant(x), tf.constant(dw), tf.constant(pw[None, None])
        with tf.GradientTape() as tape:
            tape.watch([xt, dwt, pwt])
            want = tf.nn.separable_conv2d(xt, dwt, pwt, [1, *st, 1], padding, dilations=dl)
            dy = tf.constant(rng.standard_normal(want.shape).astype(np.float32))
            loss = tf.reduce_sum(want * dy)
        want_grads = tape.gradient(loss, [xt, dwt, pwt])
        got = nn.separable_conv2d(x, dw, pw[None, None], [1, *st, 1], padding, dilations=dl)
        close(got, want.numpy())
        h, w = x.shape[1:3]
        pads = tuple(v for n, k, s, d in ((h, 3, st[0], dl[0]), (w, 3, st[1], dl[1]))
                     for v in _nn_conv.resolve_padding(n, k, s, d, padding))
        grads = _core.separable_conv2d_backward(x, dw, pw[None, None], None, dy.numpy(), None, st, dl, pads, False)
        for g, r in zip(grads[:3], want_grads):
            close(g, r.numpy(), 5e-5)


X, DW, PW = np.zeros((1, 6, 6, 3), np.float32), np.zeros((3, 3, 3, 2), np.float32), np.zeros((6, 4), np.float32)


@pytest.mark.parametrize("call,text", [
    (lambda: _core.separable_conv2d(X, DW, np.zeros((5, 4), np.float32)), r"pointwise_w.shape=\(5, 4\)"),
    (lambda: _core.separable_conv2d(X, DW, np.zeros((1, 6, 4), np.float32)), r"pointwise_w.shape=\(1, 6, 4\)"),
    (lambda: _core.separable_conv2d(X, DW, np.zeros((2, 1, 6, 4), np.float32)), r"pointwise_w.shape=\(2, 1, 6, 4\)"),
    (lambda: _core.separable_conv2d(X, np.zeros((3, 3, 2, 2), np.float32), PW), r"w.shape=\(3, 3, 2, 2\)"),
    (lambda: _core.separable_conv2d(X, DW, PW, np.zeros(3, np.float32)), r"bias.shape=\(3,\)"),
    (lambda: _core.separable_conv2d(X, DW, PW, strides=(0, 1)), r"strides=\(0, 1\)"),
    (lambda: _core.separable_conv2d(X, DW, PW, dilations=(1, -2)), r"dilations=\(1, -2\)"),
    (lambda: _core.separable_conv2d(X, DW, PW, padding=(0, -1, 0, 0)), r"padding=\(0, -1, 0, 0\)"),
    (lambda: _core.separable_conv2d(X, np.zeros((7, 3, 3, 2), np.float32), PW), "larger than the padded input"),
    (lambda: _core.separable_conv2d(X, DW, PW, activation="gelu"), "activation='gelu'"),
    (lambda: _core.separable_conv2d_backward(X, DW, PW, None, np.zeros((1, 4, 4, 4), np.float32),
                                             np.zeros((1, 4, 4, 5), np.float32)), r"mid.shape=\(1, 4, 4, 5\)"),
    (lambda: _core.separable_conv2d_backward(X, DW, PW, None, np.zeros((1, 4, 4, 3), np.float32)),
     r"dy.shape=\(1, 4, 4, 3\)"),
    (lambda: _core.separable_conv2d_backward(X, DW, PW, None, np.zeros((1, 4, 4, 4), np.float32),
                                             activation="relu"), "y=None"),
    (lambda: nn.separable_conv2d(X, DW[:, :, :2], PW[None, None], 1, "SAME"), r"depthwise_filter.shape=\(3, 3, 2, 2\)"),
    (lambda: nn.separable_conv2d(X, DW, PW[None, None, :5], 1, "SAME"), r"pointwise_filter.shape=\(1, 1, 5, 4\)"),
    (lambda: nn.separable_conv2d(X, DW, PW, 1, "SAME"), r"pointwise_filter.shape=\(6, 4\)"),
    (lambda: nn.separable_conv2d(X, DW, PW[None, None], 1, "SAME", data_format="NCHW"), "NCHW"),
])
def test_bad_input_is_a_value_error_naming_it(call, text):
    with pytest.raises(ValueError, match=text):
        call()


def test_empty_and_channel_free_inputs(rng):
    y = _core.separable_conv2d(np.zeros((0, 5, 5, 3), np.float32), DW, PW)
    assert y.shape == (0, 3, 3, 4)
    bias = np.array([1.0, -2.0, 3.0], np.float32)  # no input channels: every output is act(bias)
    y = _core.separable_conv2d(np.zeros((2, 4, 4, 0), np.float32), np.zeros((3, 3, 0, 2), np.float32),
                               np.zeros((0, 3), np.float32), bias, activation="relu")
    np.testing.assert_array_equal(y, np.broadcast_to([1.0, 0.0, 3.0], (2, 2, 2, 3)))

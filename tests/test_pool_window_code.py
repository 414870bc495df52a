"""The model's compact argmax for 2x2 / stride 2 max pooling (`_core._max_pool2d_window_code`): one uint8 per output,
the winner's place in its window (0 top-left, 1 top-right, 2 bottom-left, 3 bottom-right). It must pick exactly the
cell the public int32 argmax picks (first on ties, NaN only from the first cell), give the same gradients, agree
across ISAs and thread counts, and carry a model's training step to the float64 reference's weights."""
import numpy as np
import pytest

import convlite
from convlite import _core, layers
from helpers import simd_isas, using_isa, using_threads
from test_pool_2x2 import assert_same, emulate_max, emulate_max_backward, tricky

# Odd and even sides (an uncovered last row / column), channels 1, 3, 6, 9, 17, 33 for the vector tails and the
# full-width accesses that run into the next pixel when a pixel has fewer channels than a vector; 33 and 64 take
# the four-vector code store (32 codes at once on AVX2).
SHAPES = [(2, 6, 6, 8), (3, 7, 9, 1), (2, 5, 8, 3), (3, 13, 15, 6), (2, 9, 7, 9), (2, 11, 11, 17), (1, 4, 6, 33),
          (2, 28, 28, 6), (1, 2, 2, 1), (2, 5, 7, 64)]


def code_of(argmax, width):
    """The window code the int32 flat index implies."""
    oh, ow = argmax.shape[1:3]
    base = (2 * np.arange(oh)[:, None] * width + 2 * np.arange(ow)[None, :])[None, :, :, None]
    offset = argmax - base
    code = np.select([offset == 0, offset == 1, offset == width, offset == width + 1], [0, 1, 2, 3], 255)
    assert (code != 255).all()
    return code.astype(np.uint8)


def run_code(x, dy):
    y, code = _core._max_pool2d_window_code(x)
    return y, code, _core._max_pool2d_window_code_backward(code, dy, x.shape)


def out_shape(shape):
    return (shape[0], shape[1] // 2, shape[2] // 2, shape[3])


@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_matches_the_int32_argmax_route(each_isa, rng, shape):
    x = tricky(rng, shape)
    dy = rng.standard_normal(out_shape(shape)).astype(np.float32)
    y, code, dx = run_code(x, dy)
    ey, eargmax = emulate_max(x)
    assert_same(y, ey)
    np.testing.assert_array_equal(code, code_of(eargmax, shape[2]))
    assert_same(dx, emulate_max_backward(eargmax, dy, shape))
    _, argmax = _core.max_pool2d(x, (2, 2), return_argmax=True)
    assert_same(dx, _core.max_pool2d_backward(argmax, dy, shape, (2, 2), (2, 2)))


def test_ties_and_nan_pick_the_first_winning_cell():
    # All equal -> 0; a later strictly greater cell -> it; NaN first -> 0 (y NaN); NaN later never wins.
    cells = [[1, 1, 1, 1], [1, 2, 2, 0], [np.nan, 5, 6, 7], [1, np.nan, 0, np.nan], [-0.0, 0.0, 0.0, 0.0],
             [0, 0, 0, 3]]
    x = np.array([[[c[0:2], c[2:4]]] for c in cells], np.float32).transpose(0, 2, 3, 1)  # (6, 2, 2, 1)
    y, code = _core._max_pool2d_window_code(x)
    np.testing.assert_array_equal(code.ravel(), [0, 1, 0, 0, 0, 3])
    np.testing.assert_array_equal(y.ravel(), [1, 2, np.nan, 1, -0.0, 3])
    assert np.signbit(y.ravel()[4])


@pytest.mark.parametrize("isa", simd_isas())
@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_simd_is_bit_identical_to_scalar(rng, isa, shape):
    x = tricky(rng, shape)
    dy = rng.standard_normal(out_shape(shape)).astype(np.float32)
    with using_isa("scalar"):
        expected = run_code(x, dy)
    with using_isa(isa):
        got = run_code(x, dy)
    for e, g in zip(expected, got):
        assert_same(g, e)


@pytest.mark.parametrize("shape", [(16, 26, 26, 33), (8, 45, 45, 7)], ids=str)
def test_threads_give_identical_results(rng, shape):
    # Over a megabyte moved: two threads really split the rows (odd sides: the uncovered cells are zeroed too).
    x = tricky(rng, shape)
    dy = rng.standard_normal(out_shape(shape)).astype(np.float32)
    with using_threads(1):
        one = run_code(x, dy)
    with using_threads(2):
        two = run_code(x, dy)
    for a, b in zip(one, two):
        assert_same(a, b)


def test_uncovered_cells_of_a_reused_buffer_are_zeroed(rng):
    shape = (4, 11, 11, 64)
    x = rng.standard_normal(shape).astype(np.float32)
    dy = rng.standard_normal(out_shape(shape)).astype(np.float32)
    _, code = _core._max_pool2d_window_code(x)
    _, argmax = _core.max_pool2d(x, (2, 2), return_argmax=True)
    for _ in range(3):
        junk = np.full(shape, np.nan, np.float32)
        del junk  # the allocator hands this block to the next array of the same size
        np.testing.assert_array_equal(_core._max_pool2d_window_code_backward(code, dy, shape),
                                      emulate_max_backward(argmax, dy, shape))


def test_argument_errors(rng):
    x = rng.standard_normal((2, 6, 6, 3)).astype(np.float32)
    _, code = _core._max_pool2d_window_code(x)
    dy = np.ones((2, 3, 3, 3), np.float32)
    with pytest.raises(ValueError, match="empty"):
        _core._max_pool2d_window_code(np.ones((2, 1, 6, 3), np.float32))
    with pytest.raises(ValueError, match="code"):
        _core._max_pool2d_window_code_backward(code[:1], dy, x.shape)
    with pytest.raises(ValueError, match="dy"):
        _core._max_pool2d_window_code_backward(code, dy[:, :2], x.shape)
    with pytest.raises(TypeError, match="uint8"):
        _core._max_pool2d_window_code_backward(code.astype(np.int32), dy, x.shape)
    # Codes outside 0..3 match no cell: that window's gradient is dropped, nothing is written out of place.
    bad = np.full_like(code, 200)
    np.testing.assert_array_equal(_core._max_pool2d_window_code_backward(bad, dy, x.shape), np.zeros(x.shape))


def _reference_step(x, t, w1, b1, w2, b2, lr):
    """One SGD step of 1x1 conv -> 2x2 max pool -> flatten -> dense under MSE, in float64."""
    z = x.astype(np.float64) @ w1 + b1  # (N, H, W, F)
    n, h, w, f = z.shape
    oh, ow = h // 2, w // 2
    cells = np.stack([z[:, i:2 * oh:2, j:2 * ow:2] for i, j in ((0, 0), (0, 1), (1, 0), (1, 1))])
    win = np.argmax(cells, axis=0)  # first maximum, as the kernels choose
    p = np.take_along_axis(cells, win[None], 0)[0]
    out = p.reshape(n, -1) @ w2 + b2
    g = 2.0 * (out - t) / out.size
    dp = (g @ w2.T).reshape(p.shape)
    dz = np.zeros_like(z)
    for k, (i, j) in enumerate(((0, 0), (0, 1), (1, 0), (1, 1))):
        dz[:, i:2 * oh:2, j:2 * ow:2] = np.where(win == k, dp, 0.0)
    gw1 = np.einsum("nhwc,nhwf->cf", x.astype(np.float64), dz)
    return (w1 - lr * gw1, b1 - lr * dz.sum((0, 1, 2)), w2 - lr * p.reshape(n, -1).T @ g, b2 - lr * g.sum(0))


@pytest.mark.parametrize("size", [8, 11])  # 11x11 -> 5x5 leaves the last row and column uncovered
def test_model_training_step_matches_the_float64_reference(rng, size):
    from convlite import optimizers

    model = convlite.Sequential([convlite.Input((size, size, 3)), layers.Conv2D(5, 1), layers.MaxPooling2D(2),
                                 layers.Flatten(), layers.Dense(2)])
    model.compile(optimizers.SGD(learning_rate=0.5), "mse")
    x = rng.standard_normal((6, size, size, 3)).astype(np.float32)
    t = rng.standard_normal((6, 2)).astype(np.float32)
    before = [w.astype(np.float64) for w in model.get_weights()]
    model.train_on_batch(x, t)
    expected = _reference_step(x, t, *before, lr=0.5)
    for got, want in zip(model.get_weights(), expected):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)
    # The step must move the first layer's weights: the pooling backward reached them.
    assert not np.allclose(model.get_weights()[0], before[0])

"""A child process forked after convlite has run (multiprocessing's default start method on Linux) trains and
predicts without hanging. libgomp is not fork-safe, so convlite runs single-threaded in a forked child
(cpp/src/parallel.cpp); these tests fail by timeout if a child deadlocks on the parent's OpenMP pool."""
from __future__ import annotations

import multiprocessing

import numpy as np
import pytest

import convlite
import convlite.nn
from convlite import layers

from helpers import using_threads

TIMEOUT = 120
# Python 3.12+ warns on fork() in a multi-threaded process; forking after threads ran is exactly what we test.
pytestmark = pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")


def _model():
    convlite.utils.set_random_seed(7)
    model = convlite.Sequential([layers.Input((10, 10, 2)), layers.Conv2D(4, 3, activation="relu"),
                                 layers.GlobalAveragePooling2D(), layers.Dense(3, activation="softmax")])
    model.compile("sgd", "sparse_categorical_crossentropy")
    return model


def _data():
    rng = np.random.default_rng(0)
    return rng.standard_normal((64, 10, 10, 2)).astype(np.float32), rng.integers(0, 3, 64)


def _child_trains_and_predicts(model, queue):
    x, y = _data()
    history = model.fit(x, y, batch_size=16, epochs=2, verbose=0)
    big = np.random.default_rng(1).standard_normal((8, 64, 64, 16)).astype(np.float32)
    conv = convlite.nn.conv2d(big, np.ones((3, 3, 16, 32), np.float32), 1, "SAME")
    queue.put((model.predict(x[:5], verbose=0), history.history["loss"], conv.shape,
               convlite._core.get_num_threads()))


def _run_child(target, *args):
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    child = ctx.Process(target=target, args=(*args, queue))
    child.start()
    try:
        result = queue.get(timeout=TIMEOUT)
    finally:
        child.join(timeout=TIMEOUT)
        if child.is_alive():
            child.kill()
            child.join()
    assert child.exitcode == 0, f"the forked child failed (exit code {child.exitcode})"
    return result


@pytest.mark.parametrize("threads", [1, 2])
def test_forked_child_trains_and_predicts_after_parent_trained(threads):
    x, y = _data()
    with using_threads(threads):
        model = _model()
        model.fit(x, y, batch_size=16, epochs=2, verbose=0)  # the parent's OpenMP pool is now alive
        expected = model.predict(x[:5], verbose=0)
        pred, losses, conv_shape, child_threads = _run_child(_child_trains_and_predicts, model)
    assert child_threads == 1
    np.testing.assert_allclose(pred.sum(axis=1), 1.0, rtol=1e-5)
    assert np.isfinite(losses).all() and conv_shape == (8, 64, 64, 32)
    # The parent is unaffected by the child's training and still runs on its threads.
    np.testing.assert_array_equal(model.predict(x[:5], verbose=0), expected)


def test_forked_child_after_multithreaded_nn_op():
    rng = np.random.default_rng(2)
    big = rng.standard_normal((8, 64, 64, 16)).astype(np.float32)
    k = rng.standard_normal((3, 3, 16, 32)).astype(np.float32)
    with using_threads(2):
        expected = convlite.nn.conv2d(big, k, 1, "SAME")  # large enough to run on both threads
        pooled = convlite.nn.max_pool2d(expected, 2, 2, "VALID")
        x, y = _data()
        pred, losses, _, _ = _run_child(_child_trains_and_predicts, _model())
    assert np.isfinite(pred).all() and np.isfinite(losses).all()
    got = _run_child(_child_conv, big, k)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-4)  # serial in the child, same math
    assert pooled.shape == (8, 32, 32, 32)


def _child_conv(big, k, queue):
    queue.put(convlite.nn.conv2d(big, k, 1, "SAME"))

"""Python threads sharing one model: concurrent predict equals serial predict; training in one thread while others
predict completes (calls on one model are serialised) and leaves memory intact. Runs under the sanitizer job too."""
from __future__ import annotations

import threading

import numpy as np

import convlite
import convlite.nn
from convlite import layers


def _model(seed=0):
    convlite.utils.set_random_seed(seed)
    model = convlite.Sequential([layers.Input((12, 12, 3)), layers.Conv2D(6, 3, activation="relu"),
                                 layers.MaxPooling2D(), layers.Conv2D(8, 3, padding="same"), layers.Flatten(),
                                 layers.Dense(5, activation="softmax")])
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def _run(threads):
    errors = []

    def guarded(fn):
        def body():
            try:
                fn()
            except BaseException as err:  # re-raised in the main thread
                errors.append(err)
        return body

    workers = [threading.Thread(target=guarded(fn)) for fn in threads]
    for t in workers:
        t.start()
    for t in workers:
        t.join(timeout=120)
        assert not t.is_alive(), "a thread hung"
    if errors:
        raise errors[0]


def test_four_threads_predicting_at_once_match_serial_calls():
    model = _model()
    rng = np.random.default_rng(1)
    inputs = [rng.standard_normal((n, 12, 12, 3)).astype(np.float32) for n in (1, 7, 32, 33)]
    serial = [model.predict(x, verbose=0) for x in inputs]
    results = {i: [] for i in range(4)}

    def predictor(i):
        return lambda: [results[i].append(model.predict(inputs[i], verbose=0)) for _ in range(25)]

    _run([predictor(i) for i in range(4)])
    for i in range(4):
        for got in results[i]:
            np.testing.assert_array_equal(got, serial[i])
    # predict_on_batch (the fast path) and __call__ too
    single = []
    _run([lambda: single.extend(model.predict_on_batch(inputs[0]) for _ in range(50)) for _ in range(4)])
    for got in single:
        np.testing.assert_array_equal(got, serial[0])


def test_training_in_one_thread_while_others_predict():
    model = _model(seed=3)
    rng = np.random.default_rng(2)
    x = rng.standard_normal((96, 12, 12, 3)).astype(np.float32)
    y = rng.integers(0, 5, 96)
    probe = x[:16]
    outputs, history = [], []

    def trainer():
        history.append(model.fit(x, y, batch_size=16, epochs=3, verbose=0))
        for _ in range(20):
            model.train_on_batch(x[:16], y[:16])

    def predictor():
        for _ in range(40):
            outputs.append(model.predict(probe, verbose=0))

    _run([trainer, predictor, predictor])
    assert np.isfinite(history[0].history["loss"]).all()
    for out in outputs:  # every prediction is a valid softmax of some state of the weights, never garbage
        assert out.shape == (16, 5) and np.isfinite(out).all()
        np.testing.assert_allclose(out.sum(axis=1), 1.0, rtol=1e-5)
    # After the threads: the model still works and is deterministic.
    np.testing.assert_array_equal(model.predict(probe, verbose=0), model.predict(probe, verbose=0))


def test_threads_with_separate_models_and_nn_ops():
    """Independent models and stateless ops in parallel threads: each equals its serial result."""
    models = [_model(seed=s) for s in range(3)]
    rng = np.random.default_rng(4)
    x = rng.standard_normal((20, 12, 12, 3)).astype(np.float32)
    k = rng.standard_normal((3, 3, 3, 4)).astype(np.float32)
    expected = [m.predict(x, verbose=0) for m in models]
    conv_expected = convlite.nn.conv2d(x, k, 1, "SAME")
    got = {i: [] for i in range(4)}

    def use_model(i):
        return lambda: [got[i].append(models[i].predict(x, verbose=0)) for _ in range(15)]

    def use_nn():
        for _ in range(15):
            got[3].append(convlite.nn.conv2d(x, k, 1, "SAME"))

    _run([use_model(0), use_model(1), use_model(2), use_nn])
    for i in range(3):
        for out in got[i]:
            np.testing.assert_array_equal(out, expected[i])
    for out in got[3]:
        np.testing.assert_array_equal(out, conv_expected)

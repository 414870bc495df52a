"""Inference allocates no training state: predict / model(x) / evaluate size only the buffers their pass needs
(Model::reserve_forward), train steps add the gradients and the layers' training scratch on first need. Results stay
bit-identical however predict, evaluate and fit calls of different batch sizes are interleaved."""
from __future__ import annotations

import numpy as np
import pytest

import convlite
from convlite import layers


def _mnist_like(dropout=0.5, separable=False):
    convlite.utils.set_random_seed(3)
    conv = layers.SeparableConv2D if separable else layers.Conv2D
    model = convlite.Sequential([
        layers.Input((12, 12, 1)),
        layers.Conv2D(8, 3, activation="relu"),   # fused with the pooling below (window codes in training)
        layers.MaxPooling2D(),
        conv(6, 3, activation="relu"),
        layers.GlobalMaxPooling2D() if separable else layers.MaxPooling2D(),
        layers.Flatten(),
        layers.Dropout(dropout),
        layers.Dense(5, activation="softmax"),
    ])
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def _data(n, seed=0):
    rng = np.random.default_rng(seed)
    return rng.random((n, 12, 12, 1), dtype=np.float32), rng.integers(0, 5, n)


def _bytes(model):
    return model._compiled_core().reserved_bytes()


# Per-sample floats of the inference activations of _mnist_like(): each conv absorbs the max pooling after it and
# its buffer holds the pooled output (5*5*8, then 1*1*6), dense (5), softmax (5); Flatten and Dropout are views in
# inference.
_INFERENCE_FLOATS = 5 * 5 * 8 + 1 * 1 * 6 + 5 + 5


@pytest.mark.parametrize("call", ["predict", "predict_on_batch", "call", "evaluate"])
def test_inference_reserves_no_training_bytes(call):
    model = _mnist_like()
    x, y = _data(37)
    if call == "predict":
        model.predict(x, batch_size=37, verbose=0)
    elif call == "predict_on_batch":
        model.predict_on_batch(x)
    elif call == "call":
        model(x)
    else:
        model.evaluate(x, y, batch_size=37, verbose=0)
    got = _bytes(model)
    assert got["training"] == 0, got
    assert got["activations"] == 4 * 37 * _INFERENCE_FLOATS, got
    # Only train/test steps gather rows into a batch copy (input, labels, weights); predict reads x in place.
    expected_copy = 4 * 37 * (144 + 1 + 1) if call == "evaluate" else 0
    assert got["batch_copy"] == expected_copy, got


def test_training_adds_gradients_and_scratch_once_per_batch_size():
    model = _mnist_like()
    x, y = _data(64)
    model.predict(x, batch_size=64, verbose=0)
    inference = _bytes(model)
    model.fit(x, y, batch_size=32, epochs=1, verbose=0, shuffle=False)
    trained = _bytes(model)
    # A batch of 32 fits in the buffers predict sized for 64: activations do not move, training adds its part.
    assert trained["activations"] == inference["activations"]
    assert trained["training"] > trained["activations"] // 2
    assert trained["training"] > 4 * model.count_params()  # a gradient per parameter, allocated by the first step
    model.predict(x[:5], verbose=0)
    model.fit(x, y, batch_size=16, epochs=1, verbose=0)
    assert _bytes(model) == trained  # smaller batches reuse what is there


def test_model_call_in_training_mode_allocates_no_gradients():
    model = _mnist_like()
    x, _ = _data(20)
    model(x, training=True)
    after_call = _bytes(model)["training"]
    # Dropout's output buffer (a view in inference) and the training scratch (window codes, masks, winners), no
    # per-layer gradients: a train step then adds at least the gradients of every layer output.
    assert 0 < after_call < 4 * 20 * _INFERENCE_FLOATS
    model.train_on_batch(x, np.zeros(20, dtype=np.int64))
    assert _bytes(model)["training"] >= after_call + 4 * 20 * _INFERENCE_FLOATS


def test_predict_pieces_count_inference_buffers_only():
    # predict cuts a large batch into pieces whose inference activations stay within 8 MiB (gradients it never
    # allocates do not count): 8 MiB / (4 bytes * 216 floats) = 9709 rows per piece.
    model = _mnist_like()
    x, _ = _data(20_000)
    whole = model.predict(x, batch_size=20_000, verbose=0)
    rows = 8 * 2**20 // (4 * _INFERENCE_FLOATS)
    assert _bytes(model)["activations"] == 4 * rows * _INFERENCE_FLOATS
    np.testing.assert_array_equal(whole[:50], model.predict(x[:50], batch_size=7, verbose=0))


def _train(model, x, y, interleave):
    xs, _ = _data(301, seed=9)
    outs = []
    for epoch, batch in enumerate((32, 13, 64, 7)):
        if interleave:  # other batch sizes between training phases: larger, smaller, odd, and model(x) calls
            outs.append(model.predict(xs, batch_size=(500, 3, 301, 29)[epoch], verbose=0))
            outs.append(model(xs[:11]))
            outs.append(model(xs[:45], training=True))
            model.evaluate(x, y, batch_size=(200, 5, 17, 64)[epoch], verbose=0)
        model.fit(x, y, batch_size=batch, epochs=1, verbose=0)
    return [w.copy() for w in model.get_weights()], outs


@pytest.mark.parametrize("separable", [False, True])
def test_interleaved_inference_leaves_training_bitwise_identical(separable):
    x, y = _data(150, seed=4)
    # Dropout rate 0: model(x, training=True) in the interleaved run advances the dropout stream by design (a fresh
    # mask per call, as Keras), which is not what this test is about (the next test keeps an active dropout).
    plain = _train(_mnist_like(dropout=0.0, separable=separable), x, y, interleave=False)[0]
    mixed, outs = _train(_mnist_like(dropout=0.0, separable=separable), x, y, interleave=True)
    for a, b in zip(plain, mixed):
        np.testing.assert_array_equal(a, b)
    assert all(np.isfinite(o).all() for o in outs)


def test_interleaved_predict_keeps_dropout_training_bitwise_identical():
    # With an active dropout, predict/evaluate between fits consume no randomness: weights stay bit-identical.
    x, y = _data(150, seed=5)
    xs, _ = _data(77, seed=6)

    def run(interleave):
        model = _mnist_like(dropout=0.5)
        for batch in (32, 9, 50):
            if interleave:
                model.predict(xs, batch_size=77, verbose=0)
                model.evaluate(x, y, batch_size=3, verbose=0)
                model.predict(xs[:1], verbose=0)
            model.fit(x, y, batch_size=batch, epochs=1, verbose=0)
        return model.get_weights()

    for a, b in zip(run(False), run(True)):
        np.testing.assert_array_equal(a, b)


def test_predictions_do_not_depend_on_buffer_history():
    model = _mnist_like()
    x, y = _data(90, seed=7)
    model.fit(x, y, batch_size=30, epochs=1, verbose=0)
    model.predict(x, batch_size=90, verbose=0)
    model.fit(x, y, batch_size=45, epochs=1, verbose=0)  # training buffers grow after the inference ones
    outs = [model.predict(x, batch_size=batch, verbose=0) for batch in (1, 7, 90, 200)]
    outs.append(model.predict_on_batch(x))
    outs.append(model(x))
    for out in outs[1:]:
        np.testing.assert_array_equal(out, outs[0])
    _, evaluated_accuracy = model.evaluate(x, y, batch_size=13, verbose=0)
    np.testing.assert_allclose(evaluated_accuracy, np.mean(outs[0].argmax(1) == y), rtol=1e-6)

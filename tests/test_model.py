"""Sequential without TensorFlow: structure, weights, config, determinism, dropout, and every error path."""
from __future__ import annotations

import re

import numpy as np
import pytest

import convlite
from convlite import layers
from helpers import using_threads


def small_model(dropout=0.0):
    return convlite.Sequential([
        convlite.Input((12, 2)), layers.Conv1D(4, 3, activation="relu"), layers.MaxPooling1D(),
        layers.Dropout(dropout), layers.Flatten(), layers.Dense(3, activation="softmax"),
    ])


def data(rng, n=40):
    x = rng.normal(size=(n, 12, 2)).astype(np.float32)
    y = rng.integers(0, 3, size=n)
    return x, y


def compiled(model, metrics=("accuracy",)):
    model.compile("adam", "sparse_categorical_crossentropy", metrics=list(metrics))
    return model


# ------------------------------------------------------------------ structure and weights
def test_structure_weights_and_counts():
    model = small_model()
    assert [type(l).__name__ for l in model.layers] == ["Conv1D", "MaxPooling1D", "Dropout", "Flatten", "Dense"]
    assert model.output_shape == (None, 3)
    shapes = [w.shape for w in model.get_weights()]
    assert shapes == [(3, 2, 4), (4,), (20, 3), (3,)]
    assert model.count_params() == 24 + 4 + 60 + 3
    assert model.layers[0].count_params() == 28


def test_deferred_build_and_input_shape_argument(rng):
    deferred = convlite.Sequential()
    deferred.add(layers.Dense(2))
    assert not deferred.built
    out = deferred.predict(rng.normal(size=(5, 3)), verbose=0)
    assert out.shape == (5, 2) and deferred.built
    with_arg = convlite.Sequential([layers.Dense(4, input_shape=(3,)), layers.Dense(1)])
    assert with_arg.built and with_arg.output_shape == (None, 1)


def test_set_weights_is_exact_and_shared_with_training(rng):
    model = compiled(small_model())
    weights = [rng.normal(size=w.shape).astype(np.float32) for w in model.get_weights()]
    model.set_weights(weights)
    for a, b in zip(model.get_weights(), weights):
        np.testing.assert_array_equal(a, b)
    x, y = data(rng)
    model.fit(x, y, epochs=1, verbose=0)
    assert any(not np.array_equal(a, b) for a, b in zip(model.get_weights(), weights))
    model.set_weights(weights)  # after training: still the arrays the compiled model reads
    np.testing.assert_array_equal(model.predict(x, verbose=0), _predict_with(weights, x))


def _predict_with(weights, x):
    fresh = small_model()
    fresh.set_weights(weights)
    return fresh.predict(x, verbose=0)


def test_predict_batch_sizes_agree_and_call(rng):
    model = small_model()
    x, _ = data(rng, 37)
    full = model.predict(x, batch_size=64, verbose=0)
    np.testing.assert_array_equal(model.predict(x, batch_size=5, verbose=0), full)
    np.testing.assert_array_equal(model(x), full)
    np.testing.assert_array_equal(model.predict_on_batch(x[:1]), full[:1])
    assert full.shape == (37, 3) and full.dtype == np.float32
    np.testing.assert_allclose(full.sum(axis=1), 1.0, rtol=1e-5)


def test_config_round_trip(rng):
    model = small_model(0.25)
    clone = convlite.Sequential.from_config(model.get_config())
    assert [type(l).__name__ for l in clone.layers] == [type(l).__name__ for l in model.layers]
    clone.set_weights(model.get_weights())
    x, _ = data(rng, 4)
    np.testing.assert_array_equal(clone.predict(x, verbose=0), model.predict(x, verbose=0))
    assert clone.layers[2].rate == 0.25


def test_evaluate_return_forms(rng):
    x, y = data(rng)
    plain = small_model()
    plain.compile("sgd", "sparse_categorical_crossentropy")
    assert isinstance(plain.evaluate(x, y, verbose=0), float)
    model = compiled(small_model())
    loss, acc = model.evaluate(x, y, verbose=0)
    assert model.evaluate(x, y, verbose=0, return_dict=True) == {"accuracy": acc, "loss": loss}
    pred = model.predict(x, verbose=0)
    assert acc == pytest.approx(np.mean(np.argmax(pred, 1) == y))
    p = pred[np.arange(len(y)), y]
    assert loss == pytest.approx(-np.mean(np.log(p)), rel=1e-5)


def test_validation_split_takes_the_last_samples(rng):
    x, y = data(rng)
    model = compiled(small_model())
    weights = model.get_weights()
    history = model.fit(x, y, epochs=1, validation_split=0.25, shuffle=False, verbose=0, batch_size=64)
    reference = compiled(small_model())
    reference.set_weights(weights)
    reference.fit(x[:30], y[:30], epochs=1, shuffle=False, verbose=0, batch_size=64)
    val_loss = reference.evaluate(x[30:], y[30:], verbose=0)[0]
    assert history.history["val_loss"][0] == pytest.approx(val_loss, rel=1e-6)
    assert list(history.history) == ["accuracy", "loss", "val_accuracy", "val_loss"]


def test_sample_and_class_weights(rng):
    x, y = data(rng)
    model = compiled(small_model())
    zero = np.zeros(len(x), np.float32)
    before = model.get_weights()
    model.fit(x, y, sample_weight=zero, epochs=1, verbose=0, shuffle=False)
    for a, b in zip(model.get_weights(), before):  # zero weights: zero gradients; Adam moves by 0
        np.testing.assert_array_equal(a, b)
    model.fit(x, y, class_weight={0: 1.0, 1: 2.0, 2: 0.5}, epochs=1, verbose=0)
    model.fit(x, y, class_weight={0: 1.0}, epochs=1, verbose=0)  # Keras 3: missing classes weigh 1.0
    with pytest.raises(ValueError, match="at the same time"):
        model.fit(x, y, class_weight={0: 1.0, 1: 1.0, 2: 1.0}, sample_weight=zero + 1, verbose=0)


# ------------------------------------------------------------------ determinism and dropout
def _run_seeded(seed, rng_data, threads):
    _utils().set_random_seed(seed)
    model = compiled(small_model(dropout=0.3))
    x, y = rng_data
    with using_threads(threads):
        model.fit(x, y, epochs=2, batch_size=8, verbose=0)
    return model.get_weights()


def test_seeded_runs_are_bit_identical_on_1_and_2_threads(rng):
    d = data(rng)
    first = _run_seeded(7, d, 1)
    for other in (_run_seeded(7, d, 1), _run_seeded(7, d, 2)):
        for a, b in zip(first, other):
            np.testing.assert_array_equal(a, b)
    different = _run_seeded(8, d, 1)
    assert any(not np.array_equal(a, b) for a, b in zip(first, different))


def test_dropout_trains_with_masks_and_infers_as_identity(rng):
    layer = layers.Dropout(0.5, seed=3)
    x = rng.normal(size=(4, 50)).astype(np.float32)
    np.testing.assert_array_equal(layer(x), x)
    model = convlite.Sequential([convlite.Input((50,)), layers.Dropout(0.5, seed=3),
                                 layers.Dense(1, use_bias=False, kernel_initializer="ones")])
    model.compile(_sgd(0.0), "mse")
    # One step with lr 0: loss of the dropped-out sum vs the full sum differs, inference does not drop.
    x = np.ones((64, 50), np.float32)
    y = np.zeros((64, 1), np.float32)
    train_loss = model.train_on_batch(x, y)
    test_loss = model.test_on_batch(x, y)
    assert test_loss == pytest.approx(2500.0)
    assert train_loss != pytest.approx(test_loss) and 1500 < train_loss < 3500


def test_frozen_layer_keeps_its_weights(rng):
    model = compiled(small_model())
    model.layers[0].trainable = False
    frozen = model.layers[0].get_weights()
    last = model.layers[-1].get_weights()
    x, y = data(rng)
    model.fit(x, y, epochs=1, verbose=0)
    for a, b in zip(model.layers[0].get_weights(), frozen):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(model.layers[-1].get_weights()[0], last[0])
    assert model.layers[0].trainable_weights == [] and len(model.layers[0].non_trainable_weights) == 2


def test_nan_in_data_does_not_crash(rng):
    x, y = data(rng)
    x[3, 2, 1] = np.nan
    model = compiled(small_model())
    history = model.fit(x, y, epochs=1, verbose=0, batch_size=8)
    assert len(history.history["loss"]) == 1
    linear = convlite.Sequential([convlite.Input((3,)), layers.Dense(1)])
    linear.compile("sgd", "mse")
    xs = rng.normal(size=(8, 3)).astype(np.float32)
    xs[1, 1] = np.nan
    assert np.isnan(linear.fit(xs, np.zeros(8), verbose=0).history["loss"][0])
    assert np.isnan(linear.predict(xs, verbose=0)).all()  # the NaN reached every weight


# ------------------------------------------------------------------ error paths
def test_fit_before_compile():
    with pytest.raises(ValueError, match="compile"):
        small_model().fit(np.zeros((2, 12, 2)), np.zeros(2), verbose=0)


def test_wrong_input_shape_and_dtypes(rng):
    model = compiled(small_model())
    with pytest.raises(ValueError, match=r"expected shape=\(None, 12, 2\), found shape=\(4, 11, 2\)"):
        model.predict(np.zeros((4, 11, 2)), verbose=0)
    with pytest.raises(TypeError, match="dtype"):
        model.predict(np.full((4, 12, 2), "a"), verbose=0)
    with pytest.raises(TypeError, match="dtype"):
        model.fit(np.empty((4, 12, 2), dtype=object), np.zeros(4), verbose=0)
    ints = model.predict(np.ones((2, 12, 2), dtype=np.int64), verbose=0)
    np.testing.assert_array_equal(ints, model.predict(np.ones((2, 12, 2), np.float64), verbose=0))
    with pytest.raises(ValueError, match="non-empty"):
        model.fit(np.zeros((0, 12, 2)), np.zeros(0), verbose=0)
    with pytest.raises(ValueError, match="cardinality"):
        model.fit(np.zeros((4, 12, 2)), np.zeros(3), verbose=0)


@pytest.mark.parametrize("batch_size", [0, -3, 2.5, "8"])
def test_bad_batch_size(batch_size):
    model = compiled(small_model())
    with pytest.raises(ValueError, match="batch_size"):
        model.fit(np.zeros((4, 12, 2)), np.zeros(4), batch_size=batch_size, verbose=0)
    with pytest.raises(ValueError, match="batch_size"):
        model.predict(np.zeros((4, 12, 2)), batch_size=batch_size, verbose=0)


def test_labels_that_do_not_fit_the_loss():
    model = compiled(small_model())
    x = np.zeros((4, 12, 2))
    with pytest.raises(ValueError, match=r"label value of 3 .*\[0, 3\)"):
        model.fit(x, np.array([0, 1, 2, 3]), verbose=0)
    with pytest.raises(ValueError, match="integer class indices; found the label value nan"):
        model.fit(x, np.array([0, 1, np.nan, 2]), verbose=0)
    with pytest.raises(ValueError, match=r"integer class indices; found the label value 1\.5"):  # not "outside"
        model.fit(x, np.array([0, 1.5, 2, 0]), verbose=0)
    with pytest.raises(ValueError, match="one integer class index"):
        model.fit(x, np.eye(3)[[0, 1, 2, 0]], verbose=0)
    binary = convlite.Sequential([convlite.Input((3,)), layers.Dense(1, activation="sigmoid")])
    binary.compile("sgd", "binary_crossentropy")
    with pytest.raises(ValueError, match=r"target.shape=\(4, 2\)"):
        binary.fit(np.zeros((4, 3)), np.zeros((4, 2)), verbose=0)


def test_set_weights_errors():
    model = small_model()
    weights = model.get_weights()
    with pytest.raises(ValueError, match="length 3"):
        model.set_weights(weights[:3])
    weights[2] = np.zeros((21, 3))
    with pytest.raises(ValueError, match=r"\(21, 3\)"):
        model.set_weights(weights)


@pytest.mark.parametrize("bad", [np.zeros((3, 2, 4), np.complex64), np.full((3, 2, 4), "a"),
                                 np.zeros((3, 2, 4), object), np.zeros((3, 2, 4), "datetime64[s]")])
def test_set_weights_and_assign_refuse_non_real_arrays(bad):
    """A complex array would lose its imaginary part in the cast: a TypeError naming the dtype, nothing written."""
    model = small_model()
    weights = model.get_weights()
    before = [w.copy() for w in weights]
    weights[0] = bad
    with pytest.raises(TypeError, match=re.escape(f"Received: dtype={bad.dtype}")):
        model.set_weights(weights)
    with pytest.raises(TypeError, match=re.escape(f"Received: dtype={bad.dtype}")):
        model.layers[0].kernel.assign(bad)
    for a, b in zip(model.get_weights(), before):
        np.testing.assert_array_equal(a, b)
    weights[0] = np.ones((3, 2, 4), np.int64)  # integers and bools are cast, as Keras does
    model.set_weights(weights)
    np.testing.assert_array_equal(model.get_weights()[0], 1.0)


@pytest.mark.parametrize("make, match", [
    (lambda: layers.Conv1D(0, 3), "filters=0"),
    (lambda: layers.Conv1D(4, (3, 3)), "kernel_size"),
    (lambda: layers.Conv2D(4, 3, padding="bad"), "padding='bad'"),
    (lambda: layers.Conv2D(4, 3, padding="causal"), "padding='causal'"),
    (lambda: layers.Conv2D(4, 3, strides=0), "strides"),
    (lambda: layers.Conv2D(4, 3, data_format="channels_first"), "data_format=channels_first"),
    (lambda: layers.Dense(0), "units=0"),
    (lambda: layers.Dropout(1.5), "rate=1.5"),
    (lambda: layers.MaxPooling2D(padding="full"), "padding='full'"),
    (lambda: layers.Activation("no_such_activation"), "no_such_activation"),
    (lambda: layers.Reshape((0, 2)), "target_shape"),
])
def test_layer_argument_errors(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_build_time_shape_errors():
    with pytest.raises(ValueError, match="non-positive"):
        convlite.Sequential([convlite.Input((2, 1)), layers.Conv1D(2, 5)])
    with pytest.raises(ValueError, match="expected ndim=4"):
        convlite.Sequential([convlite.Input((5, 1)), layers.Conv2D(2, 2)])
    with pytest.raises(ValueError, match="groups"):
        convlite.Sequential([convlite.Input((5, 3)), layers.Conv1D(4, 2, groups=2)])


def test_extensions_full_and_explicit_padding_and_causal_everywhere(rng):
    x = rng.normal(size=(2, 7, 2)).astype(np.float32)
    full = layers.Conv1D(3, 3, padding="full")
    explicit = layers.Conv1D(3, 3, padding=((2, 2),))
    assert full(x).shape == (2, 9, 3)
    explicit.build((None, 7, 2))
    explicit.set_weights(full.get_weights())
    np.testing.assert_array_equal(explicit(x), full(x))
    assert layers.DepthwiseConv1D(3, padding="causal")(x).shape == (2, 7, 2)
    assert layers.Conv1D(2, 3, strides=2, dilation_rate=2, padding="same")(x).shape == (2, 4, 2)


def _utils():
    from convlite import utils

    return utils


def _sgd(lr):
    from convlite import optimizers

    return optimizers.SGD(learning_rate=lr)


def test_python_metrics_validation_data_and_initial_epoch(rng):
    x, y = data(rng)
    onehot = np.eye(3, dtype=np.float32)[y]
    model = small_model()
    model.compile("adam", "categorical_crossentropy", metrics=["mae", "accuracy"])
    history = model.fit(x, onehot, epochs=3, initial_epoch=1, validation_data=(x[:8], onehot[:8]), verbose=0)
    assert list(history.history) == ["accuracy", "loss", "mae", "val_accuracy", "val_loss", "val_mae"]  # as Keras
    assert history.epoch == [1, 2]
    loss, mae, acc = model.evaluate(x, onehot, verbose=0)  # Keras: loss, then metrics in compile order
    pred = model.predict(x, verbose=0)
    assert mae == pytest.approx(np.mean(np.abs(pred - onehot)), rel=1e-5)
    assert acc == pytest.approx(np.mean(np.argmax(pred, 1) == y))
    val = model.evaluate(x[:8], onehot[:8], verbose=0, return_dict=True)
    assert set(val) == {"accuracy", "loss", "mae"}


def test_summary_has_keras_table_and_flops(capsys):
    model = convlite.Sequential([convlite.Input((10, 1)), layers.Conv1D(4, 3), layers.Flatten(), layers.Dense(2)],
                                name="tiny")
    model.summary()
    out = capsys.readouterr().out
    assert 'Model: "tiny"' in out and "Layer (type)" in out and "FLOPs" in out
    assert "(None, 8, 4)" in out and "Total params: 82" in out
    assert "192" in out  # Conv1D: 2 * 8 positions * 3 taps * 1 channel * 4 filters


@pytest.mark.parametrize("kwargs, match", [
    ({"optimizer": "no_such_optimizer", "loss": "mse"}, "no_such_optimizer"),
    ({"optimizer": "sgd", "loss": "no_such_loss"}, "no_such_loss"),
    ({"optimizer": "sgd", "loss": "mse", "metrics": ["no_such_metric"]}, "no_such_metric"),
])
def test_unknown_names_in_compile(kwargs, match):
    with pytest.raises(ValueError, match=match):
        small_model().compile(**kwargs)


def test_concurrent_predicts_share_the_model_safely(rng):
    import threading

    model = small_model()
    x, _ = data(rng, 64)
    expected = model.predict(x, verbose=0)
    results = []

    def work():
        for _ in range(20):
            results.append(model.predict_on_batch(x))

    threads = [threading.Thread(target=work) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for r in results:
        np.testing.assert_array_equal(r, expected)


def test_step_counts_are_rejected_with_arrays():
    model = compiled(small_model())
    x, y = np.zeros((4, 12, 2)), np.zeros(4)
    with pytest.raises(ValueError, match="steps_per_epoch=2"):
        model.fit(x, y, steps_per_epoch=2, verbose=0)
    with pytest.raises(ValueError, match="steps=1"):
        model.predict(x, steps=1, verbose=0)

"""Inputs of unknown length: Input((None, C)) for Conv1D stacks and (None, None, C) for Conv2D ones.

The model compiles one C++ model per concrete input shape of the data; every one of them reads and updates the same
Python-owned weights, optimizer slots and batch-norm statistics. Keras 3 is the reference for shapes, predictions,
training and files.
"""
from __future__ import annotations

import copy
import warnings

import numpy as np
import pytest

import convlite
from convlite import layers as L
from helpers import tensorflow_or_skip


def _conv1d_stack(lib, variant):
    layers = lib.layers
    if variant == "causal_dilated_gap":
        body = [layers.Conv1D(6, 3, padding="causal", dilation_rate=2, activation="relu"), layers.MaxPooling1D(2),
                layers.Conv1D(5, 3, padding="valid"), layers.GlobalAveragePooling1D()]
    elif variant == "same_strided_gmp":
        body = [layers.Conv1D(6, 5, strides=2, padding="same", activation="relu"),
                layers.AveragePooling1D(3, strides=2, padding="same"), layers.Conv1D(4, 3, dilation_rate=3),
                layers.GlobalMaxPooling1D()]
    else:  # batch norm, separable conv, zero padding, upsampling
        body = [layers.Conv1D(4, 3, use_bias=False), layers.BatchNormalization(), layers.ReLU(),
                layers.ZeroPadding1D(2), layers.SeparableConv1D(5, 3, depth_multiplier=2), layers.UpSampling1D(2),
                layers.GlobalAveragePooling1D()]
    return lib.Sequential([lib.Input((None, 3)), *body, layers.Dense(2, activation="softmax")])


def _conv2d_stack(lib):
    layers = lib.layers
    return lib.Sequential([lib.Input((None, None, 2)), layers.Conv2D(5, 3, activation="relu"), layers.MaxPooling2D(),
                           layers.DepthwiseConv2D(3, padding="same"), layers.GlobalAveragePooling2D(),
                           layers.Dense(3)])


def _pair(build):
    """The same model in Keras and in convlite, convlite holding Keras's initial weights."""
    import keras

    theirs = build(keras)
    ours = build(convlite)
    ours.set_weights(theirs.get_weights())
    return theirs, ours


# ------------------------------------------------------------------------------------------------ Keras parity
@pytest.mark.tensorflow
@pytest.mark.parametrize("variant", ["causal_dilated_gap", "same_strided_gmp", "norm_separable_padding"])
def test_conv1d_model_predicts_as_keras_on_any_length(variant, rng):
    tensorflow_or_skip()
    theirs, ours = _pair(lambda lib: _conv1d_stack(lib, variant))
    assert ours.input_shape == theirs.input_shape == (None, None, 3)
    assert ours.output_shape == theirs.output_shape == (None, 2)
    for length in (37, 64, 100):
        x = rng.standard_normal((3, length, 3)).astype(np.float32)
        np.testing.assert_allclose(ours.predict(x, verbose=0), theirs.predict(x, verbose=0), rtol=1e-5, atol=1e-6)


@pytest.mark.tensorflow
def test_conv2d_model_predicts_as_keras_on_two_image_sizes(rng):
    tensorflow_or_skip()
    theirs, ours = _pair(_conv2d_stack)
    assert ours.output_shape == theirs.output_shape == (None, 3)
    for size in ((17, 23), (32, 32)):
        x = rng.standard_normal((2, *size, 2)).astype(np.float32)
        np.testing.assert_allclose(ours.predict(x, verbose=0), theirs.predict(x, verbose=0), rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(ours(x), theirs(x).numpy(), rtol=1e-5, atol=1e-5)


@pytest.mark.tensorflow
def test_symbolic_shapes_with_unknown_sizes_are_keras_shapes():
    tensorflow_or_skip()
    import keras

    stacks = {
        "flatten": lambda lib: [lib.layers.Flatten()],
        "reshape": lambda lib: [lib.layers.Reshape((6, -1))],
        "dense on steps": lambda lib: [lib.layers.Dense(4)],
        "pad, upsample, pool": lambda lib: [lib.layers.ZeroPadding1D(2), lib.layers.UpSampling1D(3),
                                            lib.layers.MaxPooling1D(2, padding="same")],
        "global keepdims": lambda lib: [lib.layers.GlobalMaxPooling1D(keepdims=True)],
    }
    for name, body in stacks.items():
        want = keras.Sequential([keras.Input((None, 3)), *body(keras)]).output_shape
        got = convlite.Sequential([convlite.Input((None, 3)), *body(convlite)]).output_shape
        assert got == want, name
    two_d = [lambda lib: lib.layers.Conv2D(4, (3, 5), strides=2), lambda lib: lib.layers.ZeroPadding2D((1, 2))]
    for shape in ((None, 20, 3), (9, None, 3)):
        want = keras.Sequential([keras.Input(shape), *(f(keras) for f in two_d)]).output_shape
        got = convlite.Sequential([convlite.Input(shape), *(f(convlite) for f in two_d)]).output_shape
        assert got == want, shape


@pytest.mark.tensorflow
def test_fit_on_one_length_matches_keras_losses_and_weights(rng):
    tensorflow_or_skip()

    def build(lib):
        model = _conv1d_stack(lib, "norm_separable_padding")
        model.compile(lib.optimizers.Adam(0.01), "sparse_categorical_crossentropy")
        return model

    theirs, ours = _pair(build)
    x = rng.standard_normal((24, 50, 3)).astype(np.float32)
    y = rng.integers(0, 2, 24)
    want = theirs.fit(x, y, batch_size=8, epochs=3, shuffle=False, verbose=0).history["loss"]
    got = ours.fit(x, y, batch_size=8, epochs=3, shuffle=False, verbose=0).history["loss"]
    np.testing.assert_allclose(got, want, rtol=1e-4)
    for a, b in zip(ours.get_weights(), theirs.get_weights()):  # includes the moving statistics
        np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-5)
    x_other = rng.standard_normal((2, 71, 3)).astype(np.float32)
    np.testing.assert_allclose(ours.predict(x_other, verbose=0), theirs.predict(x_other, verbose=0), rtol=1e-4,
                               atol=1e-5)


def _length_batches(rng, lengths=(40, 55, 40, 70)):
    return [(rng.standard_normal((4, n, 3)).astype(np.float32), rng.integers(0, 2, 4)) for n in lengths]


@pytest.mark.tensorflow
def test_fit_from_a_generator_of_different_lengths_matches_keras(rng):
    tensorflow_or_skip()

    def build(lib):
        model = _conv1d_stack(lib, "causal_dilated_gap")
        model.compile(lib.optimizers.SGD(0.1, momentum=0.9), "sparse_categorical_crossentropy")
        return model

    theirs, ours = _pair(build)
    batches = _length_batches(rng)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Keras: shuffle ignored for a generator
        want = theirs.fit((b for b in batches), epochs=1, verbose=0).history["loss"]
    got = ours.fit((b for b in batches), epochs=1, verbose=0).history["loss"]
    np.testing.assert_allclose(got, want, rtol=1e-5)
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)


# ------------------------------------------------------------------------------------------------ one set of weights
def _trained_pair(rng, dropout):
    """Two identical models (same seeds), with dropout and batch norm so shared state and streams are exercised."""
    def build():
        convlite.utils.set_random_seed(7)
        body = [L.Conv1D(4, 3, padding="same"), L.BatchNormalization(), L.SpatialDropout1D(0.3)] if dropout else \
            [L.Conv1D(4, 3, padding="same"), L.BatchNormalization()]
        model = convlite.Sequential([convlite.Input((None, 3)), *body, L.MaxPooling1D(2), L.Conv1D(5, 3),
                                     L.GlobalMaxPooling1D(), L.Dense(2)])
        model.compile(convlite.optimizers.Adam(0.01),
                      convlite.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
        return model

    return build(), build()


@pytest.mark.parametrize("dropout", [False, True])
def test_generator_of_different_lengths_equals_train_on_batch_one_by_one(rng, dropout):
    by_fit, by_batch = _trained_pair(rng, dropout)
    batches = _length_batches(rng, (40, 55, 40, 70, 55))
    convlite.utils.set_random_seed(11)  # the compiled models' dropout seed comes from this stream
    history = by_fit.fit(iter(batches), epochs=1, verbose=0).history
    convlite.utils.set_random_seed(11)
    logs = [by_batch.train_on_batch(x, y, return_dict=True) for x, y in batches]
    for a, b in zip(by_fit.get_weights(), by_batch.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert by_fit.optimizer.iterations == by_batch.optimizer.iterations == 5
    sizes = [len(y) for _, y in batches]
    np.testing.assert_allclose(history["loss"][0], np.average([log["loss"] for log in logs], weights=sizes),
                               rtol=1e-6)
    assert sorted(by_fit._cores) == [(40, 3), (55, 3), (70, 3)]  # one compiled model per length, reused


def test_every_length_reads_and_updates_the_same_weights(rng):
    model, fresh = _trained_pair(rng, dropout=False)
    x40 = rng.standard_normal((5, 40, 3)).astype(np.float32)
    before = model.predict(x40, verbose=0)  # compiles (and caches) the model for length 40
    moving_mean = model.layers[1].moving_mean.value
    model.fit(rng.standard_normal((8, 64, 3)), rng.integers(0, 2, 8), batch_size=4, epochs=2, verbose=0)
    assert model.layers[1].moving_mean.value is moving_mean and np.abs(moving_mean).max() > 0
    after = model.predict(x40, verbose=0)  # the cached length-40 model sees the weights trained at length 64
    fresh.set_weights(model.get_weights())
    np.testing.assert_array_equal(after, fresh.predict(x40, verbose=0))
    assert np.abs(after - before).max() > 1e-4
    # Optimizer state is one set too: continuing at another length gives what a model trained only there gives.
    twin = convlite.Sequential.from_config(model.get_config())
    twin.compile(convlite.optimizers.Adam(0.01), convlite.losses.SparseCategoricalCrossentropy(from_logits=True))
    twin.set_weights(model.get_weights())
    twin.optimizer.build([v.value for v in twin.trainable_weights])
    twin.optimizer.set_weights([np.asarray(v) for v in model.optimizer.variables])
    xb, yb = rng.standard_normal((6, 33, 3)).astype(np.float32), rng.integers(0, 2, 6)
    model.train_on_batch(xb, yb)
    twin.train_on_batch(xb, yb)
    for a, b in zip(model.get_weights(), twin.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_compiled_models_are_cached_per_shape_bounded_and_dropped_on_change(rng):
    model = convlite.Sequential([convlite.Input((None, 2)), L.Conv1D(3, 3), L.GlobalAveragePooling1D()])
    for length in range(5, 17):
        model.predict(np.ones((1, length, 2), np.float32), verbose=0)
    assert len(model._cores) == 8 and (16, 2) in model._cores and (5, 2) not in model._cores
    core = model._compiled_core(sample_shape=(16, 2))
    assert model._compiled_core(sample_shape=(16, 2)) is core
    model.compile("sgd", "mse")
    assert model._compiled_core(sample_shape=(16, 2)) is not core and len(model._cores) == 1
    model.layers[0].trainable = False
    fit_core = model._compiled_core(sample_shape=(16, 2))
    assert fit_core is not core and len(model._cores) == 1
    # Long inputs: cached models together stay under a budget of activation values, the newest always kept.
    long = 2**19  # 5 values per step (input 2, conv output 3): two such models exceed 2**22 values
    for length in (long, long + 1, 20):
        model.predict(np.ones((1, length, 2), np.float32), verbose=0)
    assert list(model._cores) == [(long + 1, 2), (20, 2)]


def test_accuracy_resolved_later_reaches_every_cached_model(rng):
    """'accuracy' with mse is a provisional categorical accuracy until the first y shows a one-column output
    (binary accuracy, as Keras resolves it): models compiled earlier for other lengths must count it too."""
    def build():
        model = convlite.Sequential([convlite.Input((None, 2)), L.Conv1D(3, 3), L.GlobalAveragePooling1D(),
                                     L.Dense(1, activation="sigmoid")])
        model.compile("sgd", "mse", metrics=["accuracy"])
        return model

    warmed, fresh = build(), build()
    fresh.set_weights(warmed.get_weights())
    for length in (40, 60):  # cached before the metric is resolved; 60 is the current one
        warmed.predict(np.zeros((1, length, 2), np.float32), verbose=0)
    x = rng.standard_normal((6, 40, 2)).astype(np.float32)
    y = (rng.random(6) > 0.5).astype(np.float32).reshape(6, 1)
    got = warmed.evaluate(x, y, verbose=0, return_dict=True)
    want = fresh.evaluate(x, y, verbose=0, return_dict=True)
    assert got == want and 0 < want["accuracy"] < 1


def test_predict_on_batch_at_new_and_seen_lengths(rng):
    model = _conv1d_stack(convlite, "causal_dilated_gap")
    for length in (30, 47, 30, 47):
        x = rng.standard_normal((2, length, 3)).astype(np.float32)
        np.testing.assert_array_equal(model.predict_on_batch(x), model.predict(x, verbose=0))
        np.testing.assert_array_equal(model.predict_on_batch(x.astype(np.float64)), model.predict(x, verbose=0))
    before = model.predict_on_batch(x)
    model.layers[-1].set_weights([-w for w in model.layers[-1].get_weights()])  # cached models see new weights
    assert not np.array_equal(model.predict_on_batch(x), before)
    np.testing.assert_array_equal(model.predict_on_batch(x), model.predict(x, verbose=0))
    np.testing.assert_array_equal(copy.deepcopy(model).predict_on_batch(x), model.predict_on_batch(x))
    with pytest.raises(ValueError, match=r"expected shape=\(None, None, 3\), found shape=\(2, 30, 4\)"):
        model.predict_on_batch(np.zeros((2, 30, 4), np.float32))


def test_fixed_shape_models_keep_their_single_compiled_model(rng):
    model = convlite.Sequential([convlite.Input((20, 2)), L.Conv1D(3, 3), L.GlobalAveragePooling1D()])
    x = rng.standard_normal((2, 20, 2)).astype(np.float32)
    model.predict_on_batch(x)
    core = model._core
    model.predict(x, verbose=0)
    model.predict_on_batch(x)
    assert model._core is core and not model._variable_input and not hasattr(model, "_cores")


def test_output_with_unknown_length_checks_labels_per_batch(rng):
    """A fully convolutional net: the output length follows the input's, and so must the labels."""
    model = convlite.Sequential([convlite.Input((None, 2)), L.Conv1D(3, 5, padding="same", activation="relu"),
                                 L.Conv1D(1, 3, padding="causal")])
    model.compile("sgd", "mse")
    assert model.output_shape == (None, None, 1)
    for length in (9, 30):
        x = rng.standard_normal((4, length, 2)).astype(np.float32)
        model.fit(x, np.zeros((4, length, 1)), verbose=0)
        assert model.predict(x, verbose=0).shape == (4, length, 1)
        assert model(x, training=True).shape == (4, length, 1)
        assert model.layers[0](x).shape == (4, length, 3)
        assert model.layers[0].output_shape == (None, None, 3)  # stays symbolic, as in Keras
    with pytest.raises(ValueError, match=r"target.shape=\(4, 12, 1\), output.shape=\(None, 9, 1\)"):
        model.fit(np.zeros((4, 9, 2)), np.zeros((4, 12, 1)), verbose=0)


# ------------------------------------------------------------------------------------------------ summary and files
def test_summary_prints_none_and_unknown_flops():
    model = convlite.Sequential([convlite.Input((None, 3)), L.Conv1D(4, 3), L.GlobalAveragePooling1D(), L.Dense(2)])
    lines = []
    model.summary(print_fn=lines.append)
    text = "\n".join(lines)
    conv_row = next(line for line in text.splitlines() if "conv1d" in line)
    dense_row = next(line for line in text.splitlines() if "dense" in line)
    assert "(None, None, 4)" in conv_row and conv_row.rstrip("│ ").endswith("?")
    assert "(None, 2)" in dense_row and dense_row.rstrip("│ ").endswith("16")
    assert model.get_config()["layers"][0]["config"]["batch_shape"] == (None, None, 3)


@pytest.mark.tensorflow
def test_keras_files_with_unknown_length_go_both_ways(tmp_path, rng):
    tensorflow_or_skip()
    import keras

    model = _conv1d_stack(convlite, "norm_separable_padding")
    model.compile(convlite.optimizers.Adam(0.01), "sparse_categorical_crossentropy")
    model.fit(rng.standard_normal((8, 30, 3)), rng.integers(0, 2, 8), epochs=2, verbose=0)
    x = rng.standard_normal((2, 45, 3)).astype(np.float32)
    model.save(tmp_path / "ours.keras")
    theirs = keras.saving.load_model(tmp_path / "ours.keras")
    assert theirs.input_shape == (None, None, 3)
    np.testing.assert_allclose(theirs.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-5, atol=1e-6)
    theirs.save(tmp_path / "theirs.keras")
    back = convlite.models.load_model(tmp_path / "theirs.keras")
    assert back.input_shape == (None, None, 3)
    np.testing.assert_array_equal(back.predict(x, verbose=0), model.predict(x, verbose=0))
    for a, b in zip(back.optimizer.variables, model.optimizer.variables):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    back.fit(rng.standard_normal((4, 52, 3)), rng.integers(0, 2, 4), verbose=0)  # trains on from the loaded state


# ------------------------------------------------------------------------------------------------ errors

"""Rescaling, GaussianNoise and GaussianDropout: Keras's formulas and configs, the noise's distribution, its
reproducibility for any thread count, the identity at inference, and gradients checked against the noise the
training step actually drew (read back from the step's predictions)."""
import numpy as np
import pytest

import convlite
from convlite import layers

from helpers import tensorflow_or_skip, using_threads


def _keras():
    tensorflow_or_skip()
    import keras

    return keras


@pytest.mark.parametrize("scale, offset", [(1 / 255.0, 0.0), (1 / 127.5, -1.0), ([2.0, -3.0, 0.5], 0.25),
                                           (0.5, [1.0, -1.0, 3.0])])
def test_rescaling_is_a_multiply_then_an_add_as_in_keras(rng, scale, offset):
    x = (rng.random((5, 7, 3)) * 255).astype(np.float32)
    model = convlite.Sequential([layers.Input((7, 3)), layers.Rescaling(scale, offset=offset)])
    want = x * np.asarray(scale, np.float32) + np.asarray(offset, np.float32)  # two float32 roundings
    np.testing.assert_array_equal(model.predict(x, verbose=0), want)
    np.testing.assert_array_equal(model(x, training=True), want)


def _train_one_step(model, x, y):
    """One SGD step through the C++ step, returning the training-mode predictions it computed."""
    core = model._compiled_core(training=True)
    pred = np.empty((len(x), int(np.prod(model.output_shape[1:]))), np.float32)
    index = np.arange(len(x), dtype=np.int64)
    core.train_step(x.reshape(len(x), -1), y.reshape(len(y), -1), None, index, 0, len(x), 1.0, 1, 1, pred)
    return pred.reshape((len(x),) + model.output_shape[1:])


@pytest.mark.parametrize("noise_layer", [layers.GaussianNoise(0.7), layers.GaussianDropout(0.3),
                                         layers.Rescaling([0.5, -2.0, 3.0, 1.5, 0.25], offset=1.0)],
                         ids=["noise", "dropout", "rescaling"])
def test_gradients_flow_through_with_the_drawn_noise(rng, noise_layer):
    # p = noise(x W): with mse against 0, dL/dW = x^T (2 p / size * d noise / d(xW)); the step's own predictions
    # give the noise it drew, and SGD at learning rate 1 moves W by exactly -dL/dW.
    x = rng.standard_normal((6, 4)).astype(np.float32)
    model = convlite.Sequential([layers.Input((4,)), layers.Dense(5, use_bias=False), noise_layer])
    model.compile(convlite.optimizers.SGD(1.0), "mse")
    w = model.get_weights()[0].astype(np.float64)
    y = np.zeros((6, 5), np.float32)
    pred = _train_one_step(model, x, y).astype(np.float64)
    z = x.astype(np.float64) @ w
    if isinstance(noise_layer, layers.GaussianNoise):
        slope = np.ones_like(z)  # p = z + n
    elif isinstance(noise_layer, layers.GaussianDropout):
        slope = pred / z  # p = z * m
    else:
        slope = np.broadcast_to(np.asarray(noise_layer._scale, np.float64), z.shape)
    grad = x.T.astype(np.float64) @ (2.0 * pred / pred.size * slope)
    np.testing.assert_allclose(model.get_weights()[0], w - grad, rtol=2e-5, atol=2e-6)


def test_noise_has_keras_distribution_and_is_off_at_inference():
    x = np.zeros((8, 50000), np.float32)
    noisy = convlite.Sequential([layers.Input((50000,)), layers.GaussianNoise(0.4)])
    drawn = noisy(x, training=True)
    assert abs(drawn.mean()) < 0.005 and abs(drawn.std() - 0.4) < 0.004
    assert abs(np.mean(np.abs(drawn) < 0.4) - 0.6827) < 0.005  # normal, not uniform
    np.testing.assert_array_equal(noisy.predict(x + 1, verbose=0), x + 1)
    scaled = convlite.Sequential([layers.Input((50000,)), layers.GaussianDropout(0.2)])
    drawn = scaled(x + 2, training=True)
    assert abs(drawn.mean() - 2) < 0.01 and abs(drawn.std() - 2 * np.sqrt(0.25)) < 0.01
    np.testing.assert_array_equal(scaled(x + 2), x + 2)
    assert not np.array_equal(drawn, scaled(x + 2, training=True))  # a fresh draw per call


def test_noise_is_reproducible_and_independent_of_the_thread_count(rng):
    x = rng.standard_normal((64, 33, 3)).astype(np.float32)
    runs = []
    for threads in (1, 2, 1):
        with using_threads(threads):
            convlite.utils.set_random_seed(7)
            model = convlite.Sequential([layers.Input((33, 3)), layers.GaussianNoise(0.3),
                                         layers.GaussianDropout(0.4)])
            runs.append(model(x, training=True))
    np.testing.assert_array_equal(runs[0], runs[1])
    np.testing.assert_array_equal(runs[0], runs[2])


@pytest.mark.parametrize("make, message", [
    (lambda: layers.GaussianNoise(-0.1), "stddev=-0.1"),
    (lambda: layers.GaussianNoise(1.5), "stddev=1.5"),  # Keras's own bound
    (lambda: layers.GaussianNoise("0.1"), "stddev='0.1'"),
    (lambda: layers.GaussianDropout(1.0), r"1 excluded\). Received: rate=1.0"),
    (lambda: layers.GaussianDropout(0.5, seed=1.5), "seed=1.5"),
    (lambda: layers.Rescaling("a"), "scale='a'"),
    (lambda: layers.Rescaling(1.0, offset=[[1.0]]), r"offset=\[\[1.0\]\]"),
])
def test_bad_arguments_are_named(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_rescaling_per_channel_needs_one_value_per_channel():
    with pytest.raises(ValueError, match="2 values for inputs with 3 channels"):
        convlite.Sequential([layers.Input((4, 3)), layers.Rescaling([1.0, 2.0])])


@pytest.mark.tensorflow
def test_files_move_both_ways_with_keras(tmp_path, rng):
    keras = _keras()
    x = rng.standard_normal((4, 9, 2)).astype(np.float32)
    theirs = keras.Sequential([keras.Input((9, 2)), keras.layers.Rescaling(0.5, offset=[1.0, -1.0]),
                               keras.layers.GaussianNoise(0.2, seed=3), keras.layers.Conv1D(3, 3),
                               keras.layers.GaussianDropout(0.1), keras.layers.Flatten(), keras.layers.Dense(2)])
    theirs.save(tmp_path / "keras.keras")
    ours = convlite.models.load_model(tmp_path / "keras.keras")
    assert [type(layer).__name__ for layer in ours.layers] == [type(layer).__name__ for layer in theirs.layers]
    np.testing.assert_allclose(ours.predict(x, verbose=0), theirs.predict(x, verbose=0), rtol=1e-5, atol=1e-6)
    ours.save(tmp_path / "ours.keras")
    back = keras.saving.load_model(tmp_path / "ours.keras")
    np.testing.assert_allclose(back.predict(x, verbose=0), theirs.predict(x, verbose=0), rtol=1e-6, atol=1e-7)
    for ours_layer, keras_layer in zip(ours.layers, theirs.layers):
        want = {k: v for k, v in keras_layer.get_config().items() if k != "dtype"}
        got = {k: v for k, v in ours_layer.get_config().items() if k != "dtype"}
        if type(keras_layer).__name__ in ("Rescaling", "GaussianNoise", "GaussianDropout"):
            assert got == want


@pytest.mark.tensorflow
def test_training_through_rescaling_matches_keras(rng):
    keras = _keras()
    x = (rng.random((32, 8, 8, 1)) * 255).astype(np.float32)
    y = rng.integers(0, 3, 32)

    def build(lib):
        model = lib.Sequential([lib.Input((8, 8, 1)), lib.layers.Rescaling(1 / 255.0),
                                lib.layers.Conv2D(4, 3, activation="relu"), lib.layers.Flatten(),
                                lib.layers.Dense(3, activation="softmax")])
        model.compile(lib.optimizers.SGD(0.1), "sparse_categorical_crossentropy")
        return model

    theirs, ours = build(keras), build(convlite)
    ours.set_weights(theirs.get_weights())
    want = theirs.fit(x, y, batch_size=8, epochs=3, shuffle=False, verbose=0).history["loss"]
    got = ours.fit(x, y, batch_size=8, epochs=3, shuffle=False, verbose=0).history["loss"]
    np.testing.assert_allclose(got, want, rtol=1e-5)
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)

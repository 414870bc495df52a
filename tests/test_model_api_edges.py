"""Model API edges a second new-user trial found: Keras's metric names for repeated and function metrics,
validation_freq as a list, get_layer's checks, class_weight without every class, copy.deepcopy / pickle of a
trained model, optimizer.build(model.trainable_variables) before load_weights, and float32 arrays whose dtype
object is not numpy's canonical one (an unpickled array) accepted by the C++ bindings."""
import copy
import functools
import pickle

import numpy as np
import pytest

import convlite
from convlite import _core, layers


def _dense_model(metrics=None, weighted_metrics=None, optimizer="sgd"):
    model = convlite.Sequential([layers.Input((3,)), layers.Dense(1, kernel_initializer="ones")])
    model.compile(optimizer=optimizer, loss="mse", metrics=metrics, weighted_metrics=weighted_metrics)
    return model


def test_metric_names_follow_keras_for_repeats_and_functions():
    model = _dense_model(metrics=[lambda t, p: abs(t - p), lambda t, p: (t - p) ** 2, "mae", "mae",
                                  functools.partial(lambda t, p, k: k * abs(t - p), k=2)],
                         weighted_metrics=["mae", "mae"])
    x, y = np.ones((4, 3), np.float32), np.zeros((4, 1), np.float32)
    logs = model.evaluate(x, y, verbose=0, return_dict=True)
    # Keras 3.15 on the same compile: these keys and values (mse loss 9, |3|, 3^2, 2 * |3|).
    assert logs == {"lambda": 3.0, "lambda_1": 9.0, "loss": 9.0, "mae": 3.0, "mae_1": 3.0, "partial": 6.0,
                    "weighted_mae": 3.0, "weighted_mae_1": 3.0}
    assert model.evaluate(x, y, verbose=0) == [9.0, 3.0, 3.0, 3.0, 3.0, 6.0, 3.0, 3.0, 9.0, 3.0, 3.0, 3.0]


def test_validation_freq_list_and_checked_before_training():
    model = _dense_model()
    x, y = np.ones((8, 3), np.float32), np.zeros((8, 1), np.float32)
    history = model.fit(x, y, epochs=4, validation_data=(x, y), validation_freq=[1, 3], verbose=0)
    assert len(history.history["loss"]) == 4 and len(history.history["val_loss"]) == 2
    weights = model.get_weights()
    for bad in ((1, 3), 0, "2", [1.5]):
        with pytest.raises(ValueError, match="validation_freq"):
            model.fit(x, y, epochs=2, validation_data=(x, y), validation_freq=bad, verbose=0)
    np.testing.assert_array_equal(model.get_weights()[0], weights[0])  # refused before any training


def test_get_layer_checks_as_keras():
    model = _dense_model()
    assert model.get_layer(index=0) is model.layers[0]
    with pytest.raises(ValueError, match="only a layer name or a layer index"):
        model.get_layer("dense", index=0)
    with pytest.raises(ValueError, match="only has 1 layers"):
        model.get_layer(index=5)
    with pytest.raises(ValueError, match="Provide either"):
        model.get_layer()


def test_class_weight_missing_class_weighs_one_as_in_keras_3():
    x = np.ones((4, 3), np.float32)
    y = np.array([0, 1, 2, 2])
    model = convlite.Sequential([layers.Input((3,)), layers.Dense(3, activation="softmax")])
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    weighted = model.evaluate(x, y, verbose=0, sample_weight=np.array([2.0, 1.0, 1.0, 1.0], np.float32))
    model2 = copy.deepcopy(model)
    model2.fit(x, y, class_weight={0: 2.0}, epochs=1, verbose=0, shuffle=False)
    model.fit(x, y, sample_weight=np.array([2.0, 1.0, 1.0, 1.0], np.float32), epochs=1, verbose=0, shuffle=False)
    for a, b in zip(model.get_weights(), model2.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert np.isfinite(weighted)


def test_deepcopy_and_pickle_of_a_trained_model():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((16, 6, 6, 1)).astype(np.float32)
    y = rng.integers(0, 3, 16)
    model = convlite.Sequential([layers.Input((6, 6, 1)), layers.Conv2D(2, 3, activation="relu"), layers.Flatten(),
                                 layers.Dense(3, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(x, y, epochs=1, verbose=0)
    before = model.predict(x, verbose=0)
    model.layers[0](x[:2])  # the layer's own call cache too
    for clone in (copy.deepcopy(model), pickle.loads(pickle.dumps(model))):
        np.testing.assert_array_equal(clone.predict(x, verbose=0), before)
        clone.fit(x, y, epochs=1, verbose=0)
    np.testing.assert_array_equal(model.predict(x, verbose=0), before)  # the clones share nothing
    pickle.dumps(history)


def test_optimizer_state_restored_after_building_it_for_the_model(tmp_path):
    rng = np.random.default_rng(1)
    x, y = rng.standard_normal((32, 5)).astype(np.float32), rng.standard_normal((32, 1)).astype(np.float32)

    def build():
        model = convlite.Sequential([layers.Input((5,)), layers.Dense(4, activation="relu"), layers.Dense(1)])
        model.compile(optimizer=convlite.optimizers.Adam(0.01), loss="mse")
        return model

    trained = build()
    trained.fit(x, y, batch_size=8, epochs=2, verbose=0, shuffle=False)
    trained.save_weights(tmp_path / "m.weights.h5")
    fresh = build()
    fresh.optimizer.build(fresh.trainable_variables)  # Keras's way; it used to raise TypeError
    fresh.load_weights(tmp_path / "m.weights.h5")
    for model in (trained, fresh):
        model.fit(x, y, batch_size=8, epochs=1, verbose=0, shuffle=False)
    for a, b in zip(trained.get_weights(), fresh.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_bindings_take_float32_arrays_with_their_own_dtype_object():
    x = pickle.loads(pickle.dumps(np.ones((2, 4, 4, 3), np.float32)))
    w = pickle.loads(pickle.dumps(np.ones((3, 3, 3, 2), np.float32)))
    np.testing.assert_array_equal(_core.conv2d(x, w, None), _core.conv2d(np.ones_like(x), np.ones_like(w), None))
    index = pickle.loads(pickle.dumps(np.arange(2, dtype=np.int64)))
    model = convlite.Sequential([layers.Input((4, 4, 3)), layers.Flatten(), layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    core = model._compiled_core()
    core.test_step(x.reshape(2, -1), np.zeros((2, 1), np.float32), None, index, 0, 2, None)


def test_add_an_input_then_layers_as_in_keras():
    model = convlite.Sequential()
    model.add(layers.Input((8,)))
    assert not model.built  # an Input alone waits for a layer, as Keras's does
    model.add(layers.Dense(3))
    assert model.count_params() == 27 and model.output_shape == (None, 3)
    only_input = convlite.Sequential([layers.InputLayer(shape=(8,))])
    only_input.add(layers.Dense(2))
    assert only_input.output_shape == (None, 2)


def test_calling_a_layer_on_a_symbolic_input_says_sequential_only():
    with pytest.raises(ValueError, match="Sequential models only"):
        layers.Dense(3)(layers.Input((8,)))

"""convlite models through Keras 3 files: convlite -> file -> convlite, convlite -> .keras -> Keras,
Keras -> .keras -> convlite, and .weights.h5 both ways; unsupported layers and failed loads."""
from __future__ import annotations

import json
import zipfile

import numpy as np
import pytest

import convlite
from convlite import saving

from helpers import tensorflow_or_skip

h5py = pytest.importorskip("h5py")

# Same architectures in both libraries: `ns` is the keras module or convlite (same names, same arguments).
ARCHITECTURES = {
    "conv1d": ((16, 3), lambda ns, L: [
        L.Conv1D(4, 3, padding="same", activation="relu"), L.BatchNormalization(), L.MaxPooling1D(2),
        L.Conv1D(5, 3, strides=2), L.Conv1D(5, 2, padding="causal", dilation_rate=2),
        L.DepthwiseConv1D(3, depth_multiplier=2, padding="same"),
        L.SeparableConv1D(4, 3, activation="relu"), L.AveragePooling1D(2, padding="same"), L.Flatten(),
        L.Dropout(0.3), L.Dense(3, activation="softmax")]),
    "conv2d": ((10, 10, 3), lambda ns, L: [
        L.Conv2D(4, 3, activation="relu"), L.DepthwiseConv2D(3, depth_multiplier=2, padding="same"),
        L.SeparableConv2D(5, 3, use_bias=False), L.BatchNormalization(), L.ReLU(), L.AveragePooling2D(2),
        L.MaxPooling2D(2, padding="same"), L.Flatten(), L.Dropout(0.5), L.Dense(4)]),
    "dense": ((7,), lambda ns, L: [
        L.Dense(5, activation="relu"), L.Dropout(0.2), L.Dense(5), L.LeakyReLU(), L.Dense(1, activation="sigmoid")]),
    # No Dropout: resumed training must be deterministic (dropout masks depend on each model's seed).
    "trainable": ((16, 3), lambda ns, L: [
        L.Conv1D(4, 3, activation="relu"), L.BatchNormalization(), L.MaxPooling1D(2), L.Flatten(),
        L.Dense(3, activation="softmax")]),
    "reshaping": ((8, 8, 2), lambda ns, L: [
        L.ZeroPadding2D(1), L.Conv2D(3, 3), L.UpSampling2D(2), L.Activation("tanh"), L.MaxPooling2D(4), L.ELU(),
        L.SpatialDropout2D(0.2), L.Reshape((16, 3)), L.Conv1D(2, 3), L.ZeroPadding1D(1), L.UpSampling1D(2),
        L.SpatialDropout1D(0.1), L.GlobalAveragePooling1D(), L.Dense(2)]),
    "global": ((12, 12, 2), lambda ns, L: [
        L.Conv2D(3, 3, strides=2, padding="same"), L.GlobalMaxPooling2D(), L.Dense(2), L.Softmax()]),
}


def _build(ns, kind, rng):
    shape, layers = ARCHITECTURES[kind]
    model = ns.Sequential([ns.Input(shape), *layers(ns, ns.layers)])
    # Positive weights keep BatchNormalization's moving variance valid and every unit active.
    model.set_weights([rng.uniform(0.1, 1.0, w.shape).astype(np.float32) for w in model.get_weights()])
    return model


def _inputs(kind, rng):
    return rng.standard_normal((5, *ARCHITECTURES[kind][0])).astype(np.float32)


def _keras():
    tensorflow_or_skip()
    import keras

    return keras


def _predict_keras(model, x):
    return np.asarray(model(x, training=False))


def _assert_same_weights(a, b):
    wa, wb = a.get_weights(), b.get_weights()
    assert [w.shape for w in wa] == [w.shape for w in wb]
    for x, y in zip(wa, wb):
        np.testing.assert_array_equal(x, y)


@pytest.mark.parametrize("kind", sorted(ARCHITECTURES))
def test_convlite_round_trip(tmp_path, rng, kind):
    model = _build(convlite, kind, rng)
    x = _inputs(kind, rng)
    model.save(tmp_path / "m.keras")
    loaded = convlite.models.load_model(tmp_path / "m.keras")
    assert [type(layer).__name__ for layer in loaded.layers] == [type(layer).__name__ for layer in model.layers]
    assert [layer.name for layer in loaded.layers] == [layer.name for layer in model.layers]
    assert loaded.input_shape == model.input_shape
    _assert_same_weights(model, loaded)
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))

    model.save_weights(tmp_path / "m.weights.h5")
    other = _build(convlite, kind, np.random.default_rng(1))
    other.load_weights(tmp_path / "m.weights.h5")
    _assert_same_weights(model, other)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.keras", "m.weights.h5"]


@pytest.mark.tensorflow
@pytest.mark.parametrize("kind", sorted(ARCHITECTURES))
def test_convlite_file_loads_in_keras(tmp_path, rng, kind):
    keras = _keras()
    model = _build(convlite, kind, rng)
    x = _inputs(kind, rng)
    saving.save_model(model, tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    assert [type(layer).__name__ for layer in loaded.layers] == [type(layer).__name__ for layer in model.layers]
    np.testing.assert_allclose(_predict_keras(loaded, x), model.predict(x, verbose=0), rtol=1e-5, atol=1e-5)

    saving.save_weights(model, tmp_path / "m.weights.h5")
    twin = _build(keras, kind, np.random.default_rng(1))
    twin.load_weights(tmp_path / "m.weights.h5")
    np.testing.assert_allclose(_predict_keras(twin, x), model.predict(x, verbose=0), rtol=1e-5, atol=1e-5)


def _config_json(path):
    with zipfile.ZipFile(path) as archive:
        return json.loads(archive.read("config.json"))


def _without_names(node):
    """Drop what differs between two sessions: auto-numbered names and object ids."""
    if isinstance(node, dict):
        return {k: _without_names(v) for k, v in node.items() if k not in ("name", "shared_object_id")}
    if isinstance(node, list):
        return [_without_names(v) for v in node]
    return node


@pytest.mark.tensorflow
@pytest.mark.parametrize("kind", sorted(ARCHITECTURES))
def test_config_json_is_what_keras_writes(tmp_path, rng, kind):
    keras = _keras()
    for ns, name in ((convlite, "ours.keras"), (keras, "theirs.keras")):
        model = _build(ns, kind, rng)
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        model.save(tmp_path / name)
    ours, theirs = (_without_names(_config_json(tmp_path / name)) for name in ("ours.keras", "theirs.keras"))
    assert ours == theirs


@pytest.mark.tensorflow
@pytest.mark.parametrize("kind", sorted(ARCHITECTURES))
def test_keras_file_loads_in_convlite(tmp_path, rng, kind):
    keras = _keras()
    model = _build(keras, kind, rng)
    x = _inputs(kind, rng)
    expected = _predict_keras(model, x)
    model.save(tmp_path / "m.keras")
    loaded = saving.load_model(tmp_path / "m.keras")
    assert [type(layer).__name__ for layer in loaded.layers] == [type(layer).__name__ for layer in model.layers]
    _assert_same_weights(model, loaded)
    np.testing.assert_allclose(loaded.predict(x, verbose=0), expected, rtol=1e-5, atol=1e-5)

    model.save_weights(tmp_path / "m.weights.h5")
    twin = _build(convlite, kind, np.random.default_rng(1))
    saving.load_weights(twin, tmp_path / "m.weights.h5")
    np.testing.assert_allclose(twin.predict(x, verbose=0), expected, rtol=1e-5, atol=1e-5)


@pytest.mark.tensorflow
def test_unsupported_keras_layer_is_named(tmp_path):
    keras = _keras()
    model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(4), keras.layers.LayerNormalization(name="ln"),
                              keras.layers.Dense(2)])
    model.save(tmp_path / "m.keras")
    with pytest.raises(ValueError, match=r"'ln' of class LayerNormalization, which convlite does not support"):
        saving.load_model(tmp_path / "m.keras")


def _rewrite_config(path, change):
    with zipfile.ZipFile(path) as archive:
        entries = {name: archive.read(name) for name in archive.namelist()}
    config = json.loads(entries["config.json"])
    change(config)
    entries["config.json"] = json.dumps(config).encode()
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in entries.items():
            archive.writestr(name, data)


@pytest.mark.parametrize("class_name", ["Lambda", "TFOpLambda", "Layer", "Variable", "InputLayer", "get"])
def test_unknown_or_non_layer_class_names_are_refused(tmp_path, rng, class_name):
    model = _build(convlite, "dense", rng)
    model.save(tmp_path / "m.keras")
    _rewrite_config(tmp_path / "m.keras", lambda c: c["config"]["layers"][2].update(class_name=class_name))
    with pytest.raises(ValueError, match=class_name):
        saving.load_model(tmp_path / "m.keras")


def test_failed_load_weights_leaves_a_convlite_model_unchanged(tmp_path, rng):
    source = _build(convlite, "conv1d", rng)
    source.save_weights(tmp_path / "m.weights.h5")
    with h5py.File(tmp_path / "m.weights.h5", "a") as f:
        # The last layer's bias is broken, so every earlier layer would load first in a naive loader.
        del f["layers/dense/vars/1"]
        f["layers/dense/vars/1"] = np.zeros((4,), np.float32)
    target = _build(convlite, "conv1d", np.random.default_rng(7))
    before = target.get_weights()
    with pytest.raises(ValueError, match=r"has shape \(4,\) but the model expects \(3,\)"):
        target.load_weights(tmp_path / "m.weights.h5")
    for a, b in zip(before, target.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_weights_of_a_different_model_are_refused(tmp_path, rng):
    _build(convlite, "conv1d", rng).save_weights(tmp_path / "m.weights.h5")
    target = _build(convlite, "dense", rng)
    before = target.get_weights()
    with pytest.raises(ValueError, match="Invalid weights file"):
        target.load_weights(tmp_path / "m.weights.h5")
    for a, b in zip(before, target.get_weights()):
        np.testing.assert_array_equal(a, b)


# ------------------------------------------------------------------------------------------ compiled models


def _compiled_convlite(rng, optimizer="adam"):
    model = _build(convlite, "trainable", rng)
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    x = _inputs("trainable", rng)
    y = rng.integers(0, 3, len(x))
    model.fit(x, y, epochs=2, batch_size=2, shuffle=False, verbose=0)
    return model, x, y


def _optimizer_state(model):
    return [np.asarray(v) for v in model.optimizer.variables]


@pytest.mark.parametrize("optimizer", ["adam", "sgd_momentum", "rmsprop"])
def test_compiled_round_trip_resumes_training_identically(tmp_path, rng, optimizer):
    from convlite import optimizers

    make = {"adam": lambda: optimizers.Adam(0.01),
            "sgd_momentum": lambda: optimizers.SGD(0.05, momentum=0.9),
            "rmsprop": lambda: optimizers.RMSprop(0.01, momentum=0.5, centered=True)}[optimizer]
    model, x, y = _compiled_convlite(rng, make())
    model.save(tmp_path / "m.keras")
    loaded = convlite.models.load_model(tmp_path / "m.keras")
    assert type(loaded.optimizer) is type(model.optimizer)
    assert loaded.optimizer.get_config() == model.optimizer.get_config()
    assert loaded.optimizer.iterations == model.optimizer.iterations > 0
    for a, b in zip(_optimizer_state(model), _optimizer_state(loaded)):
        np.testing.assert_array_equal(a, b)
    # Same weights, same optimizer state, same batches: one more epoch must agree bit for bit.
    model.fit(x, y, epochs=1, batch_size=2, shuffle=False, verbose=0)
    loaded.fit(x, y, epochs=1, batch_size=2, shuffle=False, verbose=0)
    _assert_same_weights(model, loaded)


def test_compile_config_matches_keras(tmp_path, rng):
    model, _, _ = _compiled_convlite(rng)
    model.save(tmp_path / "m.keras")
    with zipfile.ZipFile(tmp_path / "m.keras") as archive:
        compile_config = json.loads(archive.read("config.json"))["compile_config"]
    assert compile_config["loss"] == "sparse_categorical_crossentropy"
    assert compile_config["metrics"] == ["accuracy"]
    assert compile_config["optimizer"]["class_name"] == "Adam"
    assert compile_config["optimizer"]["module"] == "keras.optimizers"


@pytest.mark.tensorflow
def test_compiled_convlite_file_restores_optimizer_state_in_keras(tmp_path, rng):
    keras = _keras()
    model, x, _ = _compiled_convlite(rng)
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    assert type(loaded.optimizer).__name__ == "Adam"
    assert int(loaded.optimizer.iterations.numpy()) == model.optimizer.iterations
    for ours, theirs in zip(_optimizer_state(model), loaded.optimizer.variables):
        np.testing.assert_array_equal(ours, np.asarray(theirs))
    np.testing.assert_allclose(_predict_keras(loaded, x), model.predict(x, verbose=0), rtol=1e-5, atol=1e-5)


@pytest.mark.tensorflow
def test_compiled_keras_file_restores_optimizer_state_in_convlite(tmp_path, rng):
    keras = _keras()
    model = _build(keras, "conv1d", rng)
    model.compile(optimizer=keras.optimizers.Adam(0.02), loss=keras.losses.SparseCategoricalCrossentropy(),
                  metrics=["accuracy"])
    model.optimizer.build(model.trainable_variables)  # state set directly: tracing fit() costs seconds
    model.optimizer.iterations.assign(5)
    for slot in model.optimizer.variables[2:]:
        slot.assign(rng.uniform(0.0, 1.0, slot.shape).astype(np.float32))
    model.save(tmp_path / "m.keras")
    loaded = convlite.models.load_model(tmp_path / "m.keras")
    assert type(loaded.optimizer).__name__ == "Adam"
    assert loaded.optimizer.iterations == 5
    assert len(loaded.optimizer.variables) == len(model.optimizer.variables)
    for theirs, ours in zip(model.optimizer.variables, _optimizer_state(loaded)):
        np.testing.assert_allclose(ours, np.asarray(theirs), rtol=0, atol=0)


@pytest.mark.tensorflow
def test_unsupported_compile_config_loads_uncompiled_with_a_warning(tmp_path, rng):
    keras = _keras()
    model = _build(keras, "dense", rng)
    model.compile(optimizer=keras.optimizers.Ftrl(), loss="binary_crossentropy")
    model.save(tmp_path / "m.keras")
    with pytest.warns(UserWarning, match="Ftrl"):
        loaded = saving.load_model(tmp_path / "m.keras")
    assert loaded.optimizer is None
    _assert_same_weights(model, loaded)
    assert saving.load_model(tmp_path / "m.keras", compile=False).optimizer is None


def test_compiled_untrained_model_round_trips_without_warnings(tmp_path, rng):
    model = _build(convlite, "trainable", rng)
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    model.save(tmp_path / "m.keras")
    loaded = convlite.models.load_model(tmp_path / "m.keras")  # warnings are errors in this suite
    assert loaded.optimizer.get_config() == model.optimizer.get_config()
    assert loaded.optimizer.iterations == 0


@pytest.mark.tensorflow
def test_frozen_layers_keep_keras_optimizer_order(tmp_path, rng):
    keras = _keras()
    model = _build(convlite, "trainable", rng)
    model.layers[0].trainable = False  # its kernel and bias get no optimizer slots, in Keras as in convlite
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    x = _inputs("trainable", rng)
    model.fit(x, rng.integers(0, 3, len(x)), epochs=1, batch_size=5, verbose=0)
    model.save(tmp_path / "m.keras")
    theirs = keras.saving.load_model(tmp_path / "m.keras")
    assert not theirs.layers[0].trainable
    assert len(theirs.optimizer.variables) == len(model.optimizer.variables)
    for ours, their in zip(_optimizer_state(model), theirs.optimizer.variables):
        np.testing.assert_array_equal(ours, np.asarray(their))
    ours_again = convlite.models.load_model(tmp_path / "m.keras")
    assert not ours_again.layers[0].trainable
    for a, b in zip(_optimizer_state(model), _optimizer_state(ours_again)):
        np.testing.assert_array_equal(a, b)


def test_model_checkpoint_writes_loadable_files(tmp_path, rng):
    model = _build(convlite, "trainable", rng)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    x = _inputs("trainable", rng)
    y = rng.integers(0, 3, len(x))
    checkpoints = [convlite.callbacks.ModelCheckpoint(str(tmp_path / "m.keras")),
                   convlite.callbacks.ModelCheckpoint(str(tmp_path / "m.weights.h5"), save_weights_only=True)]
    model.fit(x, y, epochs=2, batch_size=5, callbacks=checkpoints, verbose=0)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.keras", "m.weights.h5"]
    loaded = convlite.models.load_model(tmp_path / "m.keras")
    _assert_same_weights(model, loaded)
    assert loaded.optimizer.iterations == model.optimizer.iterations
    twin = _build(convlite, "trainable", np.random.default_rng(3))
    twin.load_weights(tmp_path / "m.weights.h5")
    _assert_same_weights(model, twin)


def test_weighted_metrics_survive_save_and_load(tmp_path):
    """compile(weighted_metrics=...) is written as the identifiers the user passed (as Keras's compile_config has
    them) and comes back with Keras's weighted_<name> renaming."""
    layers = convlite.layers
    model = convlite.Sequential([layers.Input((4,)), layers.Dense(3, activation="softmax")])
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"], weighted_metrics=["accuracy"])
    model.fit(np.random.default_rng(0).random((8, 4), dtype=np.float32), np.arange(8) % 3, verbose=0)
    path = tmp_path / "m.keras"
    model.save(path)
    config = json.loads(zipfile.ZipFile(path).read("config.json"))
    assert config["compile_config"]["weighted_metrics"] == ["accuracy"]
    loaded = convlite.models.load_model(path)
    assert [m.name for m in loaded._weighted_metrics] == ["weighted_accuracy"]

"""The file format against Keras 3 itself: files we write load in Keras, files Keras writes load through us.

The saving code only needs a Sequential-like object, so a Keras model can stand on our side of the exchange:
this checks our writer and reader byte layout against Keras's own saving_lib, independent of convlite's layers.
"""
from __future__ import annotations

import io
import json
import zipfile

import numpy as np
import pytest

import convlite
from convlite import saving

from helpers import tensorflow_or_skip

pytestmark = pytest.mark.tensorflow
h5py = pytest.importorskip("h5py")


def _keras():
    tensorflow_or_skip()
    import keras

    return keras


def _models(keras):
    L = keras.layers
    return {
        "conv1d": lambda: keras.Sequential([
            keras.Input((16, 3)), L.Conv1D(4, 3), L.BatchNormalization(), L.MaxPooling1D(),
            L.SeparableConv1D(5, 3, depth_multiplier=2), L.Flatten(), L.Dropout(0.2),
            L.Dense(2, activation="softmax")]),
        "conv2d": lambda: keras.Sequential([
            keras.Input((9, 9, 3)), L.Conv2D(4, 3, padding="same", activation="relu"),
            L.DepthwiseConv2D(3, depth_multiplier=2),
            L.SeparableConv2D(5, 3, use_bias=False), L.LeakyReLU(), L.AveragePooling2D(2), L.Conv2D(3, 1),
            L.GlobalAveragePooling2D(), L.Dense(3)]),
    }


def _trained(keras, kind, rng):
    """A compiled model with non-trivial weights, BatchNormalization statistics and optimizer state.

    The state is set directly rather than by fit(): tracing a training step would cost seconds per model.
    """
    model = _models(keras)[kind]()
    model.set_weights([rng.uniform(0.2, 1.0, w.shape).astype(np.float32) for w in model.get_weights()])
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss=keras.losses.SparseCategoricalCrossentropy(
        from_logits=kind == "conv2d"), metrics=["accuracy"])
    model.optimizer.build(model.trainable_variables)
    model.optimizer.iterations.assign(7)
    for slot in model.optimizer.variables[2:]:
        slot.assign(rng.uniform(0.0, 1.0, slot.shape).astype(np.float32))
    x = rng.standard_normal((4, *model.input_shape[1:])).astype(np.float32)
    return model, x


def _predict(model, x):
    return np.asarray(model(x, training=False))


def _tree(path):
    with zipfile.ZipFile(path) as archive:
        data = archive.read("model.weights.h5")
    found = {}
    with h5py.File(io.BytesIO(data), "r") as f:
        f.visititems(lambda name, obj: found.__setitem__(
            name, (getattr(obj, "shape", None), str(getattr(obj, "dtype", "")), dict(obj.attrs))))
    return found


def _strip_ids(node):
    """Drop what legitimately differs between two saves: object ids and the auto-numbered InputLayer name."""
    if isinstance(node, dict):
        if node.get("class_name") == "InputLayer":
            node = {**node, "config": {**node["config"], "name": "input_layer"}}
        return {k: _strip_ids(v) for k, v in node.items() if k != "shared_object_id"}
    if isinstance(node, list):
        return [_strip_ids(v) for v in node]
    return node


@pytest.mark.parametrize("kind", ["conv1d", "conv2d"])
def test_our_keras_file_matches_keras_and_loads_in_keras(tmp_path, rng, kind):
    keras = _keras()
    model, x = _trained(keras, kind, rng)
    saving.save_model(model, tmp_path / "ours.keras")
    model.save(tmp_path / "theirs.keras")

    with zipfile.ZipFile(tmp_path / "ours.keras") as ours, zipfile.ZipFile(tmp_path / "theirs.keras") as theirs:
        assert ours.namelist() == theirs.namelist() == ["metadata.json", "config.json", "model.weights.h5"]
        assert all(info.compress_type == zipfile.ZIP_STORED for info in ours.infolist())
        assert _strip_ids(json.loads(ours.read("config.json"))) == _strip_ids(json.loads(theirs.read("config.json")))
        assert json.loads(ours.read("metadata.json")).keys() == json.loads(theirs.read("metadata.json")).keys()
    assert _tree(tmp_path / "ours.keras") == _tree(tmp_path / "theirs.keras")

    loaded = keras.saving.load_model(tmp_path / "ours.keras")
    np.testing.assert_allclose(_predict(loaded, x), _predict(model, x), rtol=1e-5, atol=1e-6)
    for a, b in zip(model.optimizer.variables, loaded.optimizer.variables):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


@pytest.mark.parametrize("kind", ["conv1d", "conv2d"])
def test_weights_files_both_directions(tmp_path, rng, kind):
    keras = _keras()
    model, x = _trained(keras, kind, rng)
    expected = _predict(model, x)

    saving.save_weights(model, tmp_path / "ours.weights.h5")
    fresh = keras.models.clone_model(model)
    fresh.load_weights(tmp_path / "ours.weights.h5")
    np.testing.assert_array_equal(_predict(fresh, x), expected)

    model.save_weights(tmp_path / "theirs.weights.h5")
    model.save(tmp_path / "theirs.keras")
    for path in ("theirs.weights.h5", "theirs.keras"):
        fresh = keras.models.clone_model(model)
        saving.load_weights(fresh, tmp_path / path)
        np.testing.assert_array_equal(_predict(fresh, x), expected)


def test_optimizer_state_of_a_keras_file_is_restored(tmp_path, rng):
    keras = _keras()
    model, _ = _trained(keras, "conv1d", rng)
    model.save(tmp_path / "theirs.keras")
    fresh = keras.models.clone_model(model)
    fresh.compile(optimizer=keras.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy")
    fresh.optimizer.build(fresh.trainable_variables)
    saving.load_weights(fresh, tmp_path / "theirs.keras")
    for a, b in zip(model.optimizer.variables, fresh.optimizer.variables):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


@pytest.mark.tensorflow
def test_the_inputs_own_name_moves_both_ways(tmp_path):
    keras = _keras()
    ours = convlite.Sequential([convlite.Input((4,), name="ecg_in"), convlite.layers.Dense(2)])
    ours.save(tmp_path / "ours.keras")
    assert keras.saving.load_model(tmp_path / "ours.keras").inputs[0].name == "ecg_in"
    assert convlite.models.load_model(tmp_path / "ours.keras")._input_layer.name == "ecg_in"
    theirs = keras.Sequential([keras.Input((4,), name="from_keras"), keras.layers.Dense(2)])
    theirs.save(tmp_path / "theirs.keras")
    assert convlite.models.load_model(tmp_path / "theirs.keras")._input_layer.name == "from_keras"

"""The Keras 3 file format layer on its own: h5 layout, weight round trips, atomic writes, the h5py hint.

A minimal stand-in model (numpy weights, Keras class names) is enough here: the saving code only needs
`.layers`, `.name`, `.input_shape`, `.optimizer` and each layer's get/set_weights and get_config.
"""
from __future__ import annotations

import sys

import numpy as np
import pytest

from convlite import saving
from convlite.saving import _h5

from saving_standin import StandInModel

h5py = pytest.importorskip("h5py")


def _layout(path):
    found = {}
    with h5py.File(path, "r") as f:
        f.visititems(lambda name, obj: found.__setitem__(name, getattr(obj, "shape", None)))
    return found


def test_snake_case_group_names_match_keras():
    names = ["Conv2D", "Conv2D", "DepthwiseConv2D", "SeparableConv1D", "MaxPooling2D", "BatchNormalization",
             "LeakyReLU", "ReLU", "GlobalAveragePooling2D", "Dense", "Conv2D"]
    assert _h5.layer_group_keys(names) == [
        "conv2d", "conv2d_1", "depthwise_conv2d", "separable_conv1d", "max_pooling2d", "batch_normalization",
        "leaky_re_lu", "re_lu", "global_average_pooling2d", "dense", "conv2d_2"]


def test_weights_file_layout(tmp_path, rng):
    model = StandInModel(rng)
    saving.save_weights(model, tmp_path / "m.weights.h5")
    assert _layout(tmp_path / "m.weights.h5") == {
        "vars": None, "layers": None,
        "layers/conv1d": None, "layers/conv1d/vars": None,
        "layers/conv1d/vars/0": (3, 3, 4), "layers/conv1d/vars/1": (4,),
        "layers/max_pooling1d": None, "layers/max_pooling1d/vars": None,
        "layers/conv1d_1": None, "layers/conv1d_1/vars": None,
        "layers/conv1d_1/vars/0": (3, 4, 5), "layers/conv1d_1/vars/1": (5,),
        "layers/flatten": None, "layers/flatten/vars": None,
        "layers/dense": None, "layers/dense/vars": None,
        "layers/dense/vars/0": (25, 2), "layers/dense/vars/1": (2,),
    }
    with h5py.File(tmp_path / "m.weights.h5", "r") as f:
        assert f["vars"].attrs["name"] == "sequential"
        assert f["layers/conv1d_1/vars"].attrs["name"] == "conv1d_1"
        np.testing.assert_array_equal(f["layers/dense/vars/0"][()], model.layers[4].get_weights()[0])


def test_weights_round_trip_is_exact(tmp_path, rng):
    source, target = StandInModel(rng), StandInModel(rng)
    saving.save_weights(source, tmp_path / "m.weights.h5")
    saving.load_weights(target, tmp_path / "m.weights.h5")
    for a, b in zip(source.get_weights(), target.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_float64_weights_are_cast_to_float32(tmp_path, rng):
    source, target = StandInModel(rng), StandInModel(rng)
    saving.save_weights(source, tmp_path / "m.weights.h5")
    with h5py.File(tmp_path / "m.weights.h5", "a") as f:
        value = f["layers/dense/vars/0"][()].astype(np.float64) + 1e-9
        del f["layers/dense/vars/0"]
        f["layers/dense/vars/0"] = value
    saving.load_weights(target, tmp_path / "m.weights.h5")
    loaded = target.layers[4].get_weights()[0]
    assert loaded.dtype == np.float32
    np.testing.assert_array_equal(loaded, value.astype(np.float32))


def test_save_replaces_atomically_and_leaves_no_temporary(tmp_path, rng):
    path = tmp_path / "m.weights.h5"
    path.write_bytes(b"old")
    saving.save_weights(StandInModel(rng), path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.weights.h5"]
    assert _layout(path)["layers/dense/vars/0"] == (25, 2)


@pytest.mark.parametrize("name, function", [("m.keras", "save_model"), ("m.weights.h5", "save_weights")])
def test_failed_save_keeps_the_old_file_and_leaves_nothing_behind(tmp_path, rng, name, function):
    model = StandInModel(rng)
    path = tmp_path / name
    path.write_bytes(b"previous contents")

    def broken():
        raise RuntimeError("weights unavailable")

    model.layers[4].get_weights = broken
    with pytest.raises(RuntimeError, match="weights unavailable"):
        getattr(saving, function)(model, path)
    assert path.read_bytes() == b"previous contents"
    assert sorted(p.name for p in tmp_path.iterdir()) == [name]


@pytest.mark.parametrize("name, function", [("m.h5", "save_weights"), ("m.weights", "save_weights"),
                                            ("m.h5", "save_model"), ("m.zip", "save_model")])
def test_wrong_extension_is_refused(tmp_path, rng, name, function):
    with pytest.raises(ValueError, match="Received: filepath="):
        getattr(saving, function)(StandInModel(rng), tmp_path / name)
    assert list(tmp_path.iterdir()) == []


def test_overwrite_false_refuses_an_existing_file(tmp_path, rng):
    path = tmp_path / "m.weights.h5"
    path.write_bytes(b"keep")
    with pytest.raises(FileExistsError):
        saving.save_weights(StandInModel(rng), path, overwrite=False)
    assert path.read_bytes() == b"keep"


def test_unbuilt_model_cannot_be_saved(tmp_path, rng):
    model = StandInModel(rng)
    model.input_shape = None
    with pytest.raises(ValueError, match="not yet been built"):
        saving.save_weights(model, tmp_path / "m.weights.h5")


def test_missing_h5py_names_the_extra(monkeypatch, tmp_path, rng):
    monkeypatch.setitem(sys.modules, "h5py", None)
    with pytest.raises(ImportError, match=r'pip install "convlite\[h5\]"'):
        saving.save_weights(StandInModel(rng), tmp_path / "m.weights.h5")
    with pytest.raises(ImportError, match=r'pip install "convlite\[h5\]"'):
        saving.load_model(tmp_path / "m.keras")
    assert list(tmp_path.iterdir()) == []

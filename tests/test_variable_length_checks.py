"""Inputs of unknown length, what is refused and how the shape may be declared: Flatten -> Dense and unknown channels
refused as in Keras, too-short or empty inputs named, known sizes checked, and every way of declaring an unknown
length (the predictions and training are checked against Keras in test_variable_length.py)."""
from __future__ import annotations

import numpy as np
import pytest

import convlite
from convlite import layers as L
from test_variable_length import _conv2d_stack


def test_dense_after_flatten_of_unknown_length_is_refused():
    with pytest.raises(ValueError, match="last dimension of the inputs to a Dense layer should be defined. Found "
                                         "None"):
        convlite.Sequential([convlite.Input((None, 3)), L.Conv1D(4, 3), L.Flatten(), L.Dense(2)])
    with pytest.raises(ValueError, match="BatchNormalization layer should be defined. Found None"):
        convlite.Sequential([convlite.Input((None, 3)), L.Flatten(), L.BatchNormalization()])


@pytest.mark.parametrize("shape", [(None, None), (10, None), (None, 4, None)])
def test_unknown_channels_are_refused(shape):
    with pytest.raises(ValueError, match=r"channels \(last\) dimension of the input must be known.*Received: "
                                         r"shape=\("):
        convlite.Input(shape)
    with pytest.raises(ValueError, match="channels"):
        convlite.Sequential([L.Conv1D(2, 3, input_shape=shape)])


def test_too_short_inputs_name_their_length(rng):
    model = convlite.Sequential([convlite.Input((None, 3)), L.Conv1D(4, 5, dilation_rate=2), L.MaxPooling1D(4),
                                 L.GlobalAveragePooling1D()])
    model.compile("sgd", "mse")
    with pytest.raises(ValueError, match=r"input's length 8 is too small for model .*layer conv1d.*input size 8, "
                                         r"kernel 5, dilation 2"):
        model.predict(np.zeros((2, 8, 3)), verbose=0)
    with pytest.raises(ValueError, match=r"input's length 11 is too small .*max_pooling1d.*input size 3"):
        model.fit(np.zeros((2, 11, 3)), np.zeros((2, 4)), verbose=0)
    assert model.predict(np.zeros((1, 12, 3)), verbose=0).shape == (1, 4)  # the shortest length that works
    image = _conv2d_stack(convlite)
    with pytest.raises(ValueError, match=r"input's size \(20, 2\) is too small"):
        image.predict(np.zeros((1, 20, 2, 2)), verbose=0)


def test_known_dimensions_must_match_and_unknown_ones_be_positive():
    model = convlite.Sequential([convlite.Input((None, 8, 2)), L.Conv2D(3, 3), L.GlobalMaxPooling2D()])
    assert model.predict(np.zeros((1, 5, 8, 2)), verbose=0).shape == (1, 3)
    for bad in ((1, 5, 9, 2), (1, 5, 8, 3), (1, 5, 8)):
        with pytest.raises(ValueError, match=r"expected shape=\(None, None, 8, 2\), found shape="):
            model.predict(np.zeros(bad), verbose=0)
    with pytest.raises(ValueError, match=r"positive size on every axis \(expected shape=\(None, None, 8, 2\)\)"):
        model.predict(np.zeros((1, 0, 8, 2)), verbose=0)


def test_a_file_with_unknown_channels_is_refused(tmp_path):
    import json
    import zipfile

    model = convlite.Sequential([convlite.Input((None, 3)), L.Conv1D(4, 3), L.GlobalAveragePooling1D()])
    model.save(tmp_path / "ok.keras")
    with zipfile.ZipFile(tmp_path / "ok.keras") as source:
        entries = {name: source.read(name) for name in source.namelist()}
    config = json.loads(entries["config.json"])
    assert config["config"]["layers"][0]["config"]["batch_shape"] == [None, None, 3]
    assert convlite.models.load_model(tmp_path / "ok.keras").input_shape == (None, None, 3)
    for layer in config["config"]["layers"]:
        layer["config"].pop("build_config", None)
    config["config"]["layers"][0]["config"]["batch_shape"] = [None, None, None]
    entries["config.json"] = json.dumps(config).encode()
    with zipfile.ZipFile(tmp_path / "bad.keras", "w") as target:
        for name, data in entries.items():
            target.writestr(name, data)
    with pytest.raises(ValueError, match=r"null only for spatial sizes, not the channels\). Received: \[None, None, "
                                         r"None\]"):
        convlite.models.load_model(tmp_path / "bad.keras")


def test_every_way_to_declare_an_unknown_length(rng):
    x = rng.standard_normal((2, 19, 3)).astype(np.float32)
    ways = [
        lambda: [L.Conv1D(2, 3, input_shape=(None, 3))],
        lambda: [L.Conv1D(2, 3, batch_input_shape=(None, None, 3))],
        lambda: [L.InputLayer(batch_shape=(None, None, 3)), L.Conv1D(2, 3)],
        lambda: [convlite.Input(shape=(None, 3)), L.Conv1D(2, 3)],
    ]
    outputs = []
    for way in ways:
        convlite.utils.set_random_seed(3)
        model = convlite.Sequential(way())
        assert model.input_shape == (None, None, 3) and model.output_shape == (None, None, 2)
        outputs.append(model.predict(x, verbose=0))
    model = convlite.Sequential([L.Conv1D(2, 3)])
    model.build((None, None, 3))
    assert model.output_shape == (None, None, 2)
    for out in outputs:
        assert out.shape == (2, 17, 2)
        np.testing.assert_array_equal(out, outputs[0])


def test_compute_output_shape_takes_any_length_the_input_allows():
    model = convlite.Sequential([L.Input((None, 1)), L.Conv1D(2, 3), L.GlobalAveragePooling1D(), L.Dense(1)])
    assert model.compute_output_shape((None, 50, 1)) == (None, 1)
    with pytest.raises(ValueError, match="non-positive in layer conv1d"):
        model.compute_output_shape((None, 2, 1))
    with pytest.raises(ValueError, match="incompatible"):
        model.compute_output_shape((None, 50, 2))
    with pytest.raises(ValueError, match=r"needs a positive size on every axis .* x.shape=\(4, 0, 1\)"):
        model.predict(np.zeros((4, 0, 1), np.float32), verbose=0)

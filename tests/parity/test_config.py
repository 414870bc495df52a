"""get_config / from_config against Keras, for every layer configuration of the grid and for Sequential models.

* convlite round trip: ``from_config(get_config())`` gives back the same config (name included);
* a Keras layer's config builds the same convlite layer (``from_config`` drops the keys Keras writes for
  features left unused, such as regularizers or ``renorm=False``);
* our config means the same to Keras: ``keras.layers.deserialize`` of our config gives a layer whose config equals
  the config of the Keras layer built with the same arguments (names aside);
* a Sequential's config loads in ``convlite.Sequential.from_config`` and ``keras.Sequential.from_config``, and both
  give back the layer configs and weight shapes of the original.
"""
from __future__ import annotations

import pytest

import convlite
from parity.layer_cases import ALL_CASES

pytestmark = pytest.mark.tensorflow

CASES = {case_id: make for case_id, make, _ in ALL_CASES}


def _nameless(config):
    return {k: v for k, v in config.items() if k != "name"}


@pytest.mark.parametrize("case_id", list(CASES))
def test_layer_config_round_trip_and_keras_reads_it(keras, case_id):
    ours, theirs = CASES[case_id](convlite.layers), CASES[case_id](keras.layers)
    config = ours.get_config()
    again = type(ours).from_config(config)
    assert again.get_config() == config
    loaded = keras.layers.deserialize({"module": "keras.layers", "class_name": type(ours).__name__,
                                       "config": config})
    assert type(loaded) is type(theirs)
    assert _nameless(loaded.get_config()) == _nameless(theirs.get_config())
    # and the other way: a Keras layer's config builds the same convlite layer (compared through Keras, since
    # an initializer comes back as Keras's dict where ours kept the name)
    from_keras = type(ours).from_config(theirs.get_config())
    again = keras.layers.deserialize({"module": "keras.layers", "class_name": type(ours).__name__,
                                      "config": from_keras.get_config()})
    assert _nameless(again.get_config()) == _nameless(theirs.get_config())


def _models(lib):
    L = lib.layers
    yield lib.Sequential([lib.Input((100, 1)), L.Conv1D(16, 3, activation="relu"), L.Conv1D(8, 3, activation="relu"),
                          L.Flatten(), L.Dense(1, activation="sigmoid")], name="ecg")
    yield lib.Sequential([lib.Input((9, 9, 2)), L.Conv2D(6, 3, padding="same", use_bias=False),
                          L.BatchNormalization(), L.ReLU(), L.MaxPooling2D(),
                          L.SeparableConv2D(5, 2, depth_multiplier=2),
                          L.DepthwiseConv2D(2, strides=2), L.SpatialDropout2D(0.2), L.GlobalAveragePooling2D(),
                          L.Dropout(0.3), L.Dense(4, activation="softmax")], name="image")
    yield lib.Sequential([lib.Input((12, 3)), L.ZeroPadding1D(2), L.DepthwiseConv1D(3, depth_multiplier=2),
                          L.SeparableConv1D(4, 3, padding="same"), L.LeakyReLU(0.1), L.UpSampling1D(2),
                          L.AveragePooling1D(3, strides=2), L.SpatialDropout1D(0.1), L.Conv1D(4, 2, padding="causal"),
                          L.ELU(), L.MaxPooling1D(), L.GlobalMaxPooling1D(), L.Reshape((2, 2)), L.Softmax(),
                          L.Flatten(), L.Activation("tanh")], name="one_d")
    yield lib.Sequential([lib.Input((5, 4, 2)), L.ZeroPadding2D(((1, 0), (0, 2))), L.UpSampling2D((2, 1)),
                          L.AveragePooling2D(2, padding="same"), L.GlobalMaxPooling2D(), L.Dense(3)], name="two_d")


MODEL_NAMES = ["ecg", "image", "one_d", "two_d"]


def _layer_configs(model):
    return [(type(layer).__name__, _nameless(layer.get_config())) for layer in model.layers]


@pytest.mark.parametrize("index", range(len(MODEL_NAMES)), ids=MODEL_NAMES)
def test_sequential_config_loads_in_both(keras, index):
    ours = list(_models(convlite))[index]
    theirs = list(_models(keras))[index]
    config = ours.get_config()
    again = convlite.Sequential.from_config(config)
    assert again.get_config()["layers"][1:] == config["layers"][1:]  # layer names included
    assert [w.shape for w in again.weights] == [w.shape for w in ours.weights]
    loaded = keras.Sequential.from_config(config)
    assert _layer_configs(loaded) == _layer_configs(theirs)
    assert [tuple(w.shape) for w in loaded.weights] == [tuple(w.shape) for w in ours.weights]
    assert loaded.count_params() == ours.count_params()

"""Keras semantics the model API must not drop silently: model(x, training=True) and layer(x, training=True) run in
training mode, compile(loss_weights=...) scales the loss and its gradient, a cross-entropy on any sigmoid/softmax
output uses the activation's input as logits (Keras's TensorFlow backend), optimizer.learning_rate.assign, and a
Keras 3 InputLayer config in from_config. Keras itself is the reference where it is installed."""
import warnings

import numpy as np
import pytest

import convlite
from convlite import layers

from helpers import tensorflow_or_skip


def _keras():
    tensorflow_or_skip()
    import keras

    return keras


def test_call_training_runs_dropout_with_fresh_masks(rng):
    x = rng.standard_normal((64, 37)).astype(np.float32) + 3.0
    model = convlite.Sequential([layers.Input((37,)), layers.Dropout(0.5)])
    first, second = model(x, training=True), model(x, training=True)
    kept = first != 0
    assert 0.4 < kept.mean() < 0.6
    np.testing.assert_array_equal(first[kept], x[kept] * np.float32(2.0))
    assert not np.array_equal(first, second)  # a new mask per call, as Keras's seed generator gives
    np.testing.assert_array_equal(model(x), x)
    np.testing.assert_array_equal(model(x, training=False), x)
    layer = layers.Dropout(0.3)
    dropped = layer(x, training=True)
    assert 0.2 < (dropped == 0).mean() < 0.4
    np.testing.assert_array_equal(layer(x), x)


@pytest.mark.tensorflow
def test_call_training_batch_norm_matches_keras(rng):
    keras = _keras()
    x = (rng.standard_normal((32, 5, 7)) * 3 + 5).astype(np.float32)
    ours = convlite.Sequential([layers.Input((5, 7)), layers.BatchNormalization(momentum=0.9)])
    theirs = keras.Sequential([keras.Input((5, 7)), keras.layers.BatchNormalization(momentum=0.9)])
    ours.set_weights(theirs.get_weights())
    for _ in range(2):
        np.testing.assert_allclose(ours(x, training=True), np.asarray(theirs(x, training=True)), rtol=1e-5,
                                   atol=1e-5)
    for got, want in zip(ours.get_weights(), theirs.get_weights()):  # moving statistics updated the same way
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(ours(x), np.asarray(theirs(x)), rtol=1e-5, atol=1e-5)


def _one_step(loss_weights, loss="mse"):
    model = convlite.Sequential([layers.Input((3,)), layers.Dense(1, kernel_initializer="ones")])
    model.compile(optimizer=convlite.optimizers.SGD(0.1), loss=loss, loss_weights=loss_weights)
    history = model.fit(np.ones((4, 3), np.float32), np.zeros((4, 1), np.float32), batch_size=4, verbose=0)
    return history.history["loss"][0], model.get_weights()[0].ravel()


def test_loss_weights_scale_the_loss_and_its_gradient():
    loss, kernel = _one_step(None)
    assert loss == pytest.approx(9.0) and kernel == pytest.approx([0.4] * 3)
    for weights in (2.0, [2.0], (2.0,), {"dense": 2.0}, [2]):
        loss, kernel = _one_step(weights)
        assert loss == pytest.approx(18.0) and kernel == pytest.approx([-0.2] * 3)  # Keras: 18.0, -0.2


@pytest.mark.parametrize("bad, message", [(2, "Expected `loss_weights`"), ("x", "Expected `loss_weights`"),
                                          ([1.0, 2.0], "must match the number of losses"),
                                          ([], "must match the number of losses"),
                                          (["a"], "must be a number")])
def test_loss_weights_refused_as_keras_refuses_them(bad, message):
    model = convlite.Sequential([layers.Input((3,)), layers.Dense(1)])
    with pytest.raises(ValueError, match=message):
        model.compile(optimizer="sgd", loss="mse", loss_weights=bad)


def test_loss_weights_survive_saving(tmp_path):
    model = convlite.Sequential([layers.Input((3,)), layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse", loss_weights=[2.5])
    model.save(tmp_path / "m.keras")
    loaded = convlite.models.load_model(tmp_path / "m.keras")
    assert loaded._loss_weight == 2.5


@pytest.mark.tensorflow
@pytest.mark.parametrize("activation, units, loss, from_logits", [
    ("sigmoid", 3, "categorical_crossentropy", False),
    ("sigmoid", 3, "sparse_categorical_crossentropy", False),
    ("softmax", 1, "binary_crossentropy", False),
    ("softmax", 3, "binary_crossentropy", False),
    ("softmax", 3, "categorical_crossentropy", True),  # Keras warns and still takes the softmax's input
    ("sigmoid", 3, "binary_crossentropy", True),
])
def test_cross_entropy_on_any_sigmoid_or_softmax_output_matches_keras(rng, activation, units, loss, from_logits):
    keras = _keras()
    x = rng.standard_normal((16, 4)).astype(np.float32)
    if loss == "sparse_categorical_crossentropy":
        y = rng.integers(0, units, 16).astype(np.float32)
    elif loss == "categorical_crossentropy":
        y = np.eye(units, dtype=np.float32)[rng.integers(0, units, 16)]
    else:
        y = (rng.random((16, units)) > 0.5).astype(np.float32)
    ours = convlite.Sequential([layers.Input((4,)), layers.Dense(units, activation=activation)])
    theirs = keras.Sequential([keras.Input((4,)), keras.layers.Dense(units, activation=activation)])
    ours.set_weights(theirs.get_weights())
    class_name = "".join(part.capitalize() for part in loss.split("_"))  # e.g. CategoricalCrossentropy
    ours.compile(optimizer=convlite.optimizers.SGD(0.5),
                 loss=getattr(convlite.losses, class_name)(from_logits=from_logits))
    theirs.compile(optimizer=keras.optimizers.SGD(0.5), loss=getattr(keras.losses, class_name)(from_logits=from_logits))
    with warnings.catch_warnings():  # Keras warns about a softmax over one unit and about from_logits=True here
        warnings.simplefilter("ignore")
        want = theirs.evaluate(x, y, verbose=0)
        theirs.fit(x, y, batch_size=16, shuffle=False, verbose=0)
    assert ours.evaluate(x, y, verbose=0) == pytest.approx(want, rel=1e-5)
    ours.fit(x, y, batch_size=16, shuffle=False, verbose=0)
    for got, ref in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-6)


def test_learning_rate_assign_as_in_keras():
    optimizer = convlite.optimizers.Adam(1e-3)
    rate = optimizer.learning_rate
    assert rate == pytest.approx(1e-3) and isinstance(rate, float)
    assert rate.numpy() == np.float32(1e-3)
    optimizer.learning_rate.assign(0.25)
    assert float(optimizer.learning_rate) == 0.25
    optimizer.learning_rate.assign(np.float32(0.5))
    assert optimizer.learning_rate.numpy() == np.float32(0.5)
    with pytest.raises(ValueError, match="learning_rate"):
        optimizer.learning_rate.assign("fast")


def test_from_config_takes_a_keras_3_input_layer_config():
    config = {"name": "seq", "layers": [
        {"module": "keras.layers", "class_name": "InputLayer", "registered_name": None,
         "config": {"batch_shape": (None, 8, 1), "dtype": "float32", "sparse": False, "ragged": False,
                    "name": "input_layer", "optional": False}},
        {"module": "keras.layers", "class_name": "Flatten", "registered_name": None,
         "config": {"name": "flatten", "trainable": True, "dtype": "float32", "data_format": "channels_last"}},
    ]}
    model = convlite.Sequential.from_config(config)
    assert model.predict(np.ones((2, 8, 1), np.float32), verbose=0).shape == (2, 8)
    with pytest.raises(ValueError, match="ragged"):
        layers.InputLayer(shape=(3,), ragged=True)
    with pytest.raises(ValueError, match="optional"):
        layers.Input((3,), optional=True)


@pytest.mark.parametrize("loss, y_shape, units, expected", [
    ("mse", (8, 3), 3, "CategoricalAccuracy"),          # Keras 3 allows 'accuracy' with any loss
    ("huber", (8, 1), 1, "BinaryAccuracy"),
    ("binary_crossentropy", (8, 3), 3, "CategoricalAccuracy"),  # multi-label BCE: Keras goes by the shapes
    ("sparse_categorical_crossentropy", (8,), 3, "SparseCategoricalAccuracy"),
    ("categorical_crossentropy", (8, 3), 3, "CategoricalAccuracy"),
])
def test_accuracy_resolved_from_the_shapes_as_keras_3_does(rng, loss, y_shape, units, expected):
    model = convlite.Sequential([layers.Input((4,)), layers.Dense(units, activation="sigmoid")])
    model.compile(optimizer="sgd", loss=loss, metrics=["accuracy"], weighted_metrics=["acc"])
    x = rng.standard_normal((8, 4)).astype(np.float32)
    y = rng.integers(0, units, y_shape[0]).astype(np.float32) if len(y_shape) == 1 else \
        (rng.random(y_shape) > 0.5).astype(np.float32)
    logs = model.evaluate(x, y, verbose=0, return_dict=True)
    assert [type(m).__name__ for m in model._all_metrics] == [expected, expected]
    pred = model.predict(x, verbose=0)
    if expected == "CategoricalAccuracy":
        want = np.mean(np.argmax(y, -1) == np.argmax(pred, -1))
    elif expected == "SparseCategoricalAccuracy":
        want = np.mean(y == np.argmax(pred, -1))
    else:
        want = np.mean((pred > 0.5) == y)
    assert logs["accuracy"] == pytest.approx(want) and logs["acc"] == pytest.approx(want)


def test_errors_name_what_convlite_refuses(tmp_path):
    with pytest.raises(ValueError, match="multi_label"):
        convlite.metrics.AUC(multi_label=True)
    with pytest.raises(ValueError, match="legacy whole-model .h5"):
        convlite.callbacks.ModelCheckpoint(str(tmp_path / "ck.h5"))
    with pytest.raises(ValueError, match="not a directory"):
        convlite.models.load_model(tmp_path)
    with pytest.raises(ValueError, match="convlite.activations' functions"):
        layers.Dense(2, activation="bogus")
    assert layers.Conv1D(2, 3, padding=(2, 0))(np.ones((1, 5, 1), np.float32)).shape == (1, 5, 2)


def test_layer_input_and_output_are_symbolic_tensors_of_the_built_shapes():
    model = convlite.Sequential([layers.Input((28, 28, 1)), layers.Conv2D(8, 3), layers.Flatten(), layers.Dense(10)])
    assert model.layers[0].output.shape == (None, 26, 26, 8)
    assert model.layers[0].input.shape == (None, 28, 28, 1)
    assert model.layers[2].output.shape == (None, 10) and model.layers[2].output.ndim == 2
    with pytest.raises(AttributeError, match="no defined output"):
        layers.Dense(3).output

"""convlite.losses: Keras names, get(), configs, shapes and sample weights, against keras.losses."""
import numpy as np
import pytest

from convlite import losses

from helpers import tensorflow_or_skip
import ref_train as ref


@pytest.mark.parametrize("name, cls", [
    ("mse", losses.MeanSquaredError), ("mean_squared_error", losses.MeanSquaredError),
    ("MSE", losses.MeanSquaredError), ("mae", losses.MeanAbsoluteError),
    ("mean_absolute_error", losses.MeanAbsoluteError), ("binary_crossentropy", losses.BinaryCrossentropy),
    ("bce", losses.BinaryCrossentropy), ("categorical_crossentropy", losses.CategoricalCrossentropy),
    ("sparse_categorical_crossentropy", losses.SparseCategoricalCrossentropy), ("huber", losses.Huber),
    ("Huber", losses.Huber), ("CategoricalCrossentropy", losses.CategoricalCrossentropy),
])
def test_get_resolves_names_to_instances(name, cls):
    assert type(losses.get(name)) is cls


def test_get_accepts_classes_instances_functions_dicts_and_none():
    instance = losses.BinaryCrossentropy(from_logits=True)
    assert losses.get(instance) is instance
    assert type(losses.get(losses.Huber)) is losses.Huber
    assert type(losses.get(losses.mse)) is losses.MeanSquaredError
    restored = losses.get(losses.serialize(instance))
    assert restored.from_logits is True and type(restored) is losses.BinaryCrossentropy
    assert losses.get(None) is None


def test_unknown_identifier_lists_allowed_names():
    with pytest.raises(ValueError, match="Allowed names:.*mean_squared_error.*Received: 'hinge'"):
        losses.get("hinge")


@pytest.mark.parametrize("loss, spec", [
    (losses.BinaryCrossentropy(from_logits=True, label_smoothing=0.1),
     dict(kind="binary_crossentropy", from_logits=True, label_smoothing=0.1, delta=1.0)),
    (losses.SparseCategoricalCrossentropy(), dict(kind="sparse_categorical_crossentropy", from_logits=False,
                                                  label_smoothing=0.0, delta=1.0)),
    (losses.Huber(delta=2.5), dict(kind="huber", from_logits=False, label_smoothing=0.0, delta=2.5)),
])
def test_core_spec(loss, spec):
    assert loss._core_spec() == spec


def test_bad_constructor_arguments():
    with pytest.raises(ValueError, match="label_smoothing=2.0"):
        losses.CategoricalCrossentropy(label_smoothing=2.0)
    with pytest.raises(ValueError, match="reduction='sum'"):
        losses.MeanSquaredError(reduction="sum")
    with pytest.raises(ValueError, match="ignore_class=0"):
        losses.SparseCategoricalCrossentropy(ignore_class=0)
    with pytest.raises(ValueError, match=r"y_true.shape=\(4, 2\), y_pred.shape=\(4, 3\)"):
        losses.MeanSquaredError()(np.zeros((4, 2)), np.zeros((4, 3)))


def test_value_and_grad_keeps_the_prediction_shape(rng):
    y_pred = rng.standard_normal((2, 3, 4)).astype(np.float32)
    y_true = rng.standard_normal((2, 3, 4)).astype(np.float32)
    value, grad = losses.MeanSquaredError().value_and_grad(y_true, y_pred)
    assert grad.shape == (2, 3, 4)
    np.testing.assert_allclose(grad, 2 * (y_pred - y_true) / 24, rtol=1e-6)
    assert value == pytest.approx(((y_pred.astype(np.float64) - y_true) ** 2).mean(), rel=1e-6)


def test_functions_give_the_batch_average(rng):
    y_pred = rng.uniform(0.1, 0.9, (5, 3)).astype(np.float32)
    y_true = rng.integers(0, 2, (5, 3)).astype(np.float32)
    assert losses.binary_crossentropy(y_true, y_pred) == pytest.approx(
        ref.loss("binary_crossentropy", y_pred, y_true), rel=1e-6)


# ------------------------------------------------------------------------------------------- Keras parity
KERAS_CASES = [
    ("BinaryCrossentropy", dict(from_logits=True, label_smoothing=0.1), (6, 1), (6,)),
    ("BinaryCrossentropy", dict(), (6, 3), (6, 3)),
    ("CategoricalCrossentropy", dict(label_smoothing=0.2), (4, 5, 3), (4, 5, 3)),
    ("SparseCategoricalCrossentropy", dict(from_logits=True), (6, 4), (6, 1)),
    ("SparseCategoricalCrossentropy", dict(), (3, 2, 4), (3, 2)),
    ("MeanSquaredError", dict(), (7,), (7,)),
    ("MeanSquaredError", dict(), (4, 3, 2), (4, 3, 2)),
    ("MeanAbsoluteError", dict(), (5, 2), (5, 2)),
    ("Huber", dict(delta=0.5), (5, 4), (5, 4)),
]


def sample_inputs(rng, name, kwargs, pred_shape, true_shape):
    if name.startswith("Sparse"):
        y_true = rng.integers(0, pred_shape[-1], true_shape)
    elif "Crossentropy" in name:
        y_true = rng.integers(0, 2, true_shape).astype(np.float32)
        if name.startswith("Categorical"):
            y_true = np.eye(pred_shape[-1], dtype=np.float32)[rng.integers(0, pred_shape[-1], pred_shape[:-1])]
    else:
        y_true = rng.standard_normal(true_shape).astype(np.float32)
    if kwargs.get("from_logits") or "Crossentropy" not in name:
        y_pred = rng.standard_normal(pred_shape).astype(np.float32)
    else:
        y_pred = rng.uniform(0.02, 0.98, pred_shape).astype(np.float32)
    return y_true, y_pred


@pytest.mark.tensorflow
@pytest.mark.parametrize("name, kwargs, pred_shape, true_shape", KERAS_CASES)
@pytest.mark.parametrize("weights", [None, "per_sample", "scalar"])
def test_classes_match_keras(rng, name, kwargs, pred_shape, true_shape, weights):
    tensorflow_or_skip()
    import keras

    y_true, y_pred = sample_inputs(rng, name, kwargs, pred_shape, true_shape)
    if weights == "per_sample" and len(pred_shape) == 1:
        pytest.skip("Keras reduces 1-D predictions to one value: there is no per-sample weight")
    w = {None: None, "per_sample": rng.uniform(0, 2, pred_shape[:-1]).astype(np.float32),
         "scalar": np.float32(0.5)}[weights]
    ours = getattr(losses, name)(**kwargs)
    theirs = getattr(keras.losses, name)(**kwargs)
    expected = float(theirs(y_true, y_pred, sample_weight=w))
    assert float(ours(y_true, y_pred, sample_weight=w)) == pytest.approx(expected, rel=2e-6, abs=1e-7)


@pytest.mark.tensorflow
@pytest.mark.parametrize("name", ["BinaryCrossentropy", "CategoricalCrossentropy", "SparseCategoricalCrossentropy",
                                  "MeanSquaredError", "MeanAbsoluteError", "Huber"])
def test_configs_match_keras(name):
    tensorflow_or_skip()
    import keras

    ours = getattr(losses, name)()
    theirs = getattr(keras.losses, name)()
    assert ours.get_config() == theirs.get_config()
    assert type(getattr(losses, name).from_config(theirs.get_config())) is getattr(losses, name)

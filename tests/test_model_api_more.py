"""More of Keras 3's model API, side by side with Keras where it applies: model.outputs, compute_output_shape
(model and layers, unknown sizes), model.metrics / metrics_names / get_metrics_result / reset_metrics, to_json and
model_from_json both ways, clone_model, convlite.models.save_model."""
import json

import numpy as np
import pytest

import convlite
from helpers import tensorflow_or_skip


def _keras():
    tensorflow_or_skip()
    import keras

    return keras


def _net(K, compiled=False, metrics=("accuracy",)):
    """The same small CNN in Keras or convlite (explicit names, so both write the same config)."""
    L = K.layers
    model = K.Sequential([
        K.Input((12, 12, 1), name="pixels"), L.Conv2D(4, 3, activation="relu", name="c1"), L.MaxPooling2D(name="p1"),
        L.SeparableConv2D(3, 3, padding="same", name="s1"), L.BatchNormalization(name="bn"), L.Dropout(0.25, name="d"),
        L.Flatten(name="f"), L.Dense(5, activation="softmax", name="out"),
    ], name="net")
    if compiled:
        schedule = K.optimizers.schedules.CosineDecayRestarts(0.01, 10, t_mul=1.5, m_mul=0.9)
        model.compile(K.optimizers.Adam(schedule, name="adam"), "sparse_categorical_crossentropy",
                      metrics=list(metrics) if metrics is not None else None)
    return model


def _data(n=24, seed=0):
    rng = np.random.default_rng(seed)
    return rng.random((n, 12, 12, 1), dtype=np.float32), rng.integers(0, 5, n)


def _flat(model):
    return [np.asarray(w) for w in model.get_weights()]


# ------------------------------------------------------------------------------------------------ shapes
@pytest.mark.tensorflow
def test_outputs_and_model_compute_output_shape_match_keras():
    keras = _keras()
    for K in (keras, convlite):
        model = _net(K)
        assert [tuple(t.shape) for t in model.outputs] == [(None, 5)]
        assert model.compute_output_shape((None, 12, 12, 1)) == (None, 5)
        assert model.compute_output_shape((7, 12, 12, 1)) == (7, 5)
        with pytest.raises(ValueError, match="incompatible"):
            model.compute_output_shape((None, 13, 12, 1))
        unbuilt = K.Sequential([K.layers.Dense(3)])
        with pytest.raises(AttributeError, match="no defined outputs"):
            unbuilt.outputs  # noqa: B018 - the property raises
        assert tuple(unbuilt.compute_output_shape((None, 5))) == (None, 3)


def test_model_input_and_output_are_the_symbolic_tensors():
    model = _net(convlite)  # (Keras 3.15 raises here for a Sequential that was never called; convlite answers)
    assert model.input.shape == (None, 12, 12, 1) and model.input.name == "pixels"
    assert model.output.shape == (None, 5) and model.outputs[0].shape == model.output.shape
    with pytest.raises(AttributeError, match="no defined input"):
        convlite.Sequential([convlite.layers.Dense(2)]).input  # noqa: B018 - the property raises


LAYER_CASES = [
    ("ZeroPadding2D", ((((1, 2), (3, 4)),), {}), (None, None, 5, 2)),
    ("ZeroPadding1D", ((2,), {}), (3, None, 4)),
    ("UpSampling2D", (((2, 3),), {}), (None, 4, None, 1)),
    ("UpSampling1D", ((3,), {}), (None, None, 2)),
    ("Conv1D", ((4, 3), dict(strides=2, padding="same")), (None, None, 3)),
    ("Conv1D", ((2, 3), dict(padding="causal")), (None, 9, 3)),
    ("Conv2D", ((4, (3, 2)), dict(dilation_rate=2)), (2, 9, None, 3)),
    ("Conv2D", ((4, 3), dict(strides=2, padding="same")), (None, 7, 8, 3)),
    ("SeparableConv2D", ((4, 3), dict(strides=2)), (None, None, None, 3)),
    ("DepthwiseConv2D", ((3,), dict(depth_multiplier=2)), (None, 7, None, 3)),
    ("MaxPooling2D", ((3, 2), {}), (None, None, 8, 3)),
    ("AveragePooling1D", ((2,), dict(padding="same")), (None, None, 3)),
    ("GlobalMaxPooling2D", ((), dict(keepdims=True)), (None, None, None, 3)),
    ("GlobalAveragePooling1D", ((), {}), (4, 9, 8)),
    ("Reshape", (((2, -1),), {}), (None, None, 4)),
    ("Reshape", (((-1, 2),), {}), (4, 9, 8)),
    ("Flatten", ((), {}), (None, None, 4)),
    ("Flatten", ((), {}), (None, 3, 4)),
    ("Dense", ((5,), {}), (None, None, 4)),
    ("BatchNormalization", ((), {}), (None, None, 4)),
]


@pytest.mark.tensorflow
@pytest.mark.parametrize("name, args, shape", LAYER_CASES, ids=lambda v: str(v))
def test_layer_compute_output_shape_matches_keras_with_unknown_sizes(name, args, shape):
    keras = _keras()
    positional, kwargs = args
    ours = getattr(convlite.layers, name)(*positional, **kwargs).compute_output_shape(shape)
    theirs = getattr(keras.layers, name)(*positional, **kwargs).compute_output_shape(shape)
    assert isinstance(ours, tuple)
    assert ours == tuple(theirs)  # (Keras's UpSampling1D returns a list; convlite a tuple, as every other layer)


def test_layer_compute_output_shape_refuses_what_keras_refuses():
    with pytest.raises(ValueError, match="ndim=4"):
        convlite.layers.Conv2D(3, 3).compute_output_shape((None, 8, 8))
    with pytest.raises(ValueError, match="non-positive"):
        convlite.layers.Conv2D(3, 3).compute_output_shape((None, 2, 2, 1))


# ------------------------------------------------------------------------------------------------ metrics
@pytest.mark.tensorflow
def test_metrics_listed_as_keras_lists_them_around_compile_and_fit():
    keras = _keras()
    x, y = _data()
    for K in (keras, convlite):
        model = _net(K)
        assert model.metrics == [] and model.metrics_names == []
        model = _net(K, compiled=True, metrics=None)
        assert model.metrics_names == ["loss"]
        model = _net(K, compiled=True)
        assert model.metrics_names == ["loss", "compile_metrics"]
        assert type(model.metrics[0]).__name__ == "Mean"
        model.fit(x, y, epochs=1, verbose=0)
        assert model.metrics_names == ["loss", "compile_metrics"]
        assert [m.name for m in model.metrics[1].metrics] == ["accuracy"]
        assert sorted(model.get_metrics_result()) == ["accuracy", "loss"]
        model.reset_metrics()
        assert {k: float(v) for k, v in model.get_metrics_result().items()} == {"loss": 0.0, "accuracy": 0.0}


@pytest.mark.parametrize("validation_freq, validated_last", [(1, True), (2, False)])
def test_metric_objects_hold_the_last_runs_results(validation_freq, validated_last):
    x, y = _data()
    model = _net(convlite, compiled=True, metrics=("accuracy", "sparse_top_k_categorical_accuracy"))
    history = model.fit(x, y, epochs=3, verbose=0, validation_split=0.25, validation_freq=validation_freq).history
    prefix = "val_" if validated_last else ""  # as Keras: the evaluation reuses (and resets) the same objects
    results = model.get_metrics_result()
    assert sorted(results) == ["accuracy", "loss", "sparse_top_k_categorical_accuracy"]
    for name, value in results.items():
        assert float(value) == pytest.approx(history[prefix + name][-1], rel=1e-6)
    assert float(model.metrics[0].result()) == pytest.approx(history[prefix + "loss"][-1], rel=1e-6)
    logs = model.evaluate(x[:10], y[:10], verbose=0, return_dict=True)
    assert {k: pytest.approx(float(v), rel=1e-6) for k, v in model.get_metrics_result().items()} == logs


def test_metric_objects_hold_the_batch_of_train_on_batch_and_test_on_batch():
    x, y = _data(8)
    model = _net(convlite, compiled=True)
    for run in (model.train_on_batch, model.test_on_batch):
        loss, accuracy = run(x, y)
        assert {k: float(v) for k, v in model.get_metrics_result().items()} == \
            {"loss": pytest.approx(loss, rel=1e-6), "accuracy": pytest.approx(accuracy, rel=1e-6)}
    assert model.test_on_batch(x, y, return_dict=True) == pytest.approx(
        {k: float(v) for k, v in model.get_metrics_result().items()}, rel=1e-6)


def test_metric_objects_updated_in_place_by_compile_metrics_container():
    model = _net(convlite, compiled=True)
    container = model.metrics[1]
    y, pred = np.array([1, 2]), np.eye(5, dtype=np.float32)[[1, 3]]
    container.update_state(y, pred)
    assert float(container.result()["accuracy"]) == 0.5
    container.reset_state()
    assert float(container.result()["accuracy"]) == 0.0


# ------------------------------------------------------------------------------------------------ JSON
@pytest.mark.tensorflow
@pytest.mark.parametrize("compiled", [False, True])
def test_to_json_is_keras_json(compiled):
    keras = _keras()
    ours = json.loads(_net(convlite, compiled).to_json())
    theirs = json.loads(_net(keras, compiled).to_json())
    assert ours == theirs
    assert _net(convlite).to_json(indent=2).startswith('{\n  "module": "keras"')


@pytest.mark.tensorflow
def test_model_from_json_reads_keras_json_and_keras_reads_ours():
    keras = _keras()
    x, _ = _data(6)
    theirs = _net(keras, compiled=True)
    ours = convlite.models.model_from_json(theirs.to_json())
    assert ours.name == "net" and [l.name for l in ours.layers] == [l.name for l in theirs.layers]
    assert ours.compiled and ours.optimizer.get_config()["learning_rate"]["class_name"] == "CosineDecayRestarts"
    ours.set_weights(theirs.get_weights())
    np.testing.assert_allclose(ours.predict(x, verbose=0), theirs.predict(x, verbose=0), rtol=1e-4, atol=1e-5)
    again = keras.models.model_from_json(_net(convlite, compiled=True).to_json())
    assert again.compiled and again.count_params() == ours.count_params()


def test_model_from_json_round_trip_gives_fresh_weights_and_same_config():
    model = _net(convlite, compiled=True)
    copy = convlite.models.model_from_json(model.to_json())
    assert copy.to_json() == model.to_json()
    assert copy.optimizer is not model.optimizer and copy.metrics_names == ["loss", "compile_metrics"]
    assert not np.array_equal(copy.layers[0].get_weights()[0], model.layers[0].get_weights()[0])
    unbuilt = convlite.Sequential([convlite.layers.Dense(3, name="d")], name="u")
    copy = convlite.models.model_from_json(unbuilt.to_json())
    assert not copy.built and [l.name for l in copy.layers] == ["d"]


@pytest.mark.parametrize("text, error, match", [
    ("[1, 2]", ValueError, "JSON object"),
    ('{"class_name": "Functional", "config": {}}', ValueError, "Sequential models only"),
    ("not json", ValueError, "JSON"),
    (b'{"module": "keras", "class_name": "Sequential", "config": {"layers": [{"module": "keras.layers", '
     b'"class_name": "LSTM", "config": {"name": "l"}}]}}', ValueError, "LSTM"),
    (42, TypeError, "json_string"),
])
def test_model_from_json_refuses_clearly(text, error, match):
    with pytest.raises(error, match=match):
        convlite.models.model_from_json(text)
    with pytest.raises(ValueError, match="custom objects"):
        convlite.models.model_from_json(_net(convlite).to_json(), custom_objects={"X": object})


def test_model_from_json_warns_and_leaves_uncompiled_what_it_cannot_compile():
    config = json.loads(_net(convlite, compiled=True).to_json())
    config["compile_config"]["loss"] = "kl_divergence"
    with pytest.warns(UserWarning, match="uncompiled"):
        model = convlite.models.model_from_json(json.dumps(config))
    assert not model.compiled


# ------------------------------------------------------------------------------------------------ clone_model
@pytest.mark.tensorflow
def test_clone_model_matches_keras():
    keras = _keras()
    for K in (keras, convlite):
        model = _net(K, compiled=True)
        clone = K.models.clone_model(model)
        assert clone is not model and clone.name == model.name
        assert [l.name for l in clone.layers] == [l.name for l in model.layers]
        assert all(a is not b for a, b in zip(clone.layers, model.layers))
        assert clone.compiled and clone.optimizer is not model.optimizer  # Keras 3.15 compiles the clone
        assert clone.optimizer.get_config()["learning_rate"]["class_name"] == "CosineDecayRestarts"
        assert json.loads(clone.to_json()) == json.loads(model.to_json())
        assert not K.models.clone_model(_net(K)).compiled
        with pytest.raises(ValueError, match="call_function"):
            K.models.clone_model(model, call_function=lambda layer, *a, **k: layer(*a, **k))


def test_clone_model_has_fresh_weights_and_trains_on_its_own():
    x, y = _data()
    model = _net(convlite, compiled=True)
    before = _flat(model)
    clone = convlite.models.clone_model(model)
    kernels = [w for w in _flat(clone) if w.ndim > 1]
    assert all(not np.array_equal(a, b) for a, b in zip(kernels, [w for w in before if w.ndim > 1]))
    clone.fit(x, y, epochs=1, verbose=0)
    assert all(np.array_equal(a, b) for a, b in zip(_flat(model), before))
    assert int(clone.optimizer.iterations) > 0 and int(model.optimizer.iterations) == 0


def test_clone_model_honours_clone_function_and_input_tensors():
    model = _net(convlite)

    def wider(layer):
        config = layer.get_config()
        if config["name"] == "out":
            config["units"] = 7
        return layer.__class__.from_config(config)

    assert convlite.models.clone_model(model, clone_function=wider).output_shape == (None, 7)
    shared = convlite.models.clone_model(model, clone_function=lambda layer: layer)
    assert all(a is b for a, b in zip(shared.layers, model.layers))
    other = convlite.models.clone_model(model, input_tensors=[convlite.Input((16, 16, 1))])
    assert other.input_shape == (None, 16, 16, 1) and other.output_shape == (None, 5)
    with pytest.raises(ValueError, match="single tensor"):
        convlite.models.clone_model(model, input_tensors=[convlite.Input((4,)), convlite.Input((4,))])
    with pytest.raises(ValueError, match="KerasTensor"):
        convlite.models.clone_model(model, input_tensors=np.zeros((1, 12, 12, 1)))
    with pytest.raises(ValueError, match="Sequential models only"):
        convlite.models.clone_model(convlite.layers.Dense(2))
    with pytest.raises(ValueError, match="Unexpected keyword"):
        convlite.models.clone_model(model, weights=True)


def test_clone_of_a_model_with_an_unrestorable_compile_warns_and_is_uncompiled():
    model = convlite.Sequential([convlite.Input((3,)), convlite.layers.Dense(1)])
    model.compile("sgd", "mse", metrics=[lambda t, p: abs(t - p)])  # a function metric has no config to rebuild
    with pytest.warns(UserWarning, match="clone is returned uncompiled"):
        clone = convlite.models.clone_model(model)
    assert not clone.compiled and clone.count_params() == model.count_params()


def test_models_save_model_writes_a_keras_file(tmp_path):
    pytest.importorskip("h5py")
    model = _net(convlite, compiled=True)
    path = tmp_path / "m.keras"
    convlite.models.save_model(model, path)
    loaded = convlite.models.load_model(path)
    assert [l.name for l in loaded.layers] == [l.name for l in model.layers]
    for a, b in zip(_flat(loaded), _flat(model)):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="zipped"):
        convlite.models.save_model(model, tmp_path / "d", zipped=False)


# ------------------------------------------------------------------------------------------------ smaller attributes
@pytest.mark.tensorflow
def test_constant_attributes_and_build_config_match_keras():
    keras = _keras()
    configs = []
    for K in (keras, convlite):
        model = _net(K)
        assert (model.dtype, model.compute_dtype, model.variable_dtype, model.input_dtype) == ("float32",) * 4
        assert model.supports_masking is False
        assert model.get_build_config() == {"input_shape": (None, 12, 12, 1)}
        assert K.Sequential([K.layers.Dense(2)]).get_build_config() is None
        assert model.get_compile_config() == {}
        configs.append(_net(K, compiled=True).get_compile_config())
        fresh = K.Sequential([K.layers.Dense(2)])
        fresh.build_from_config({"input_shape": [None, 6]})
        assert fresh.built and fresh.output_shape == (None, 2) and fresh.count_params() == 14
    assert json.loads(json.dumps(configs[0])) == json.loads(json.dumps(configs[1]))


def test_compile_from_config_restores_the_compile_of_a_json():
    model = _net(convlite, compiled=True)
    config = json.loads(model.to_json())["compile_config"]
    other = _net(convlite)
    other.compile_from_config(config)
    assert other.compiled and other.metrics_names == ["loss", "compile_metrics"]
    assert json.loads(other.to_json())["compile_config"] == config


def test_run_flags_are_the_compiled_step_and_export_is_refused(tmp_path):
    model = _net(convlite, compiled=True)
    assert (model.run_eagerly, model.jit_compile, model.steps_per_execution) == (False, False, 1)
    with pytest.raises(ValueError, match=r"model.save\(path\)"):
        model.export(str(tmp_path / "saved"))


@pytest.mark.parametrize("name", ["TensorBoard", "BackupAndRestore"])
def test_unsupported_keras_callbacks_are_refused_when_created(name, tmp_path):
    with pytest.raises(ValueError, match=f"keras.callbacks.{name}: .*Received"):
        getattr(convlite.callbacks, name)(str(tmp_path))

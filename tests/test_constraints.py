"""Constraints: the objects and the compiled step's projection against float64 numpy references for every kind and
axis form (int, negative, list, None) on odd shapes, Keras's configs and argument handling, applied only to
trainable weights, threads 1 vs 2 bit-identical, and training runs against Keras with SGD and Adam (EEGNet-style
max_norm on depthwise and dense kernels) plus file round trips both ways."""
import numpy as np
import pytest

import convlite
from convlite import constraints, layers

from helpers import tensorflow_or_skip, using_threads
import ref_regul as ref


def _keras():
    tensorflow_or_skip()
    import keras

    return keras


KINDS = [
    (constraints.MaxNorm(0.7, axis=0), lambda w: ref.max_norm(w, 0.7, 0)),
    (constraints.MaxNorm(1.5, axis=[0, 1, 2]), lambda w: ref.max_norm(w, 1.5, (0, 1, 2))),
    (constraints.MaxNorm(0.9, axis=-1), lambda w: ref.max_norm(w, 0.9, -1)),
    (constraints.MaxNorm(2.0, axis=[1, 3]), lambda w: ref.max_norm(w, 2.0, (1, 3))),
    (constraints.MaxNorm(3.0, axis=None), lambda w: ref.max_norm(w, 3.0, None)),
    (constraints.NonNeg(), ref.non_neg),
    (constraints.UnitNorm(axis=2), lambda w: ref.unit_norm(w, 2)),
    (constraints.UnitNorm(), lambda w: ref.unit_norm(w, 0)),
    (constraints.MinMaxNorm(0.5, 1.2, rate=0.6, axis=[0, 1]), lambda w: ref.min_max_norm(w, 0.5, 1.2, 0.6, (0, 1))),
    (constraints.MinMaxNorm(), lambda w: ref.min_max_norm(w)),
]
IDS = ["max0", "max012", "max-1", "max13", "maxNone", "nonneg", "unit2", "unit0", "minmax01", "minmax-default"]


@pytest.mark.parametrize("constraint, reference", KINDS, ids=IDS)
def test_object_matches_reference(rng, constraint, reference):
    w = rng.standard_normal((3, 5, 7, 9)).astype(np.float32)
    np.testing.assert_allclose(constraint(w), reference(w), rtol=2e-6, atol=1e-7)


@pytest.mark.parametrize("constraint, reference", KINDS, ids=IDS)
def test_step_applies_constraint_after_update(rng, constraint, reference):
    """SGD with learning rate 0 leaves the kernel as it was, so after one step it is exactly constraint(kernel)."""
    model = convlite.Sequential([layers.Input((9, 11, 5)),
                                 layers.Conv2D(7, (3, 5), kernel_constraint=constraint, bias_constraint="non_neg")])
    w0, b0 = rng.standard_normal((3, 5, 5, 7)).astype(np.float32), rng.standard_normal(7).astype(np.float32)
    model.set_weights([w0, b0])
    model.compile(convlite.optimizers.SGD(0.0), "mse")
    model.train_on_batch(rng.standard_normal((2, 9, 11, 5)).astype(np.float32), np.zeros((2, 7, 7, 7), np.float32))
    w1, b1 = model.get_weights()
    np.testing.assert_allclose(w1, reference(w0), rtol=2e-6, atol=1e-7)
    np.testing.assert_array_equal(b1, np.maximum(b0, 0))


def test_frozen_weights_are_not_constrained(rng):
    model = convlite.Sequential([layers.Input((4,)), layers.Dense(3, kernel_constraint="unit_norm"),
                                 layers.Dense(2, bias_constraint=constraints.NonNeg())])
    model.layers[0].trainable = False
    start = [rng.standard_normal(w.shape).astype(np.float32) * 3 for w in model.get_weights()]
    model.set_weights(start)
    model.compile(convlite.optimizers.SGD(0.0), "mse")
    model.train_on_batch(np.ones((2, 4), np.float32), np.zeros((2, 2), np.float32))
    after = model.get_weights()
    np.testing.assert_array_equal(after[0], start[0])  # frozen: Keras's optimizer never sees it
    np.testing.assert_array_equal(after[3], np.maximum(start[3], 0))


def test_get_and_bad_arguments():
    assert isinstance(constraints.get("max_norm"), constraints.MaxNorm)
    assert isinstance(constraints.get("MinMaxNorm"), constraints.MinMaxNorm)
    assert constraints.get({"class_name": "UnitNorm", "config": {"axis": [0, 1]}}).axis == [0, 1]
    with pytest.raises(ValueError, match="Could not interpret constraint identifier: maxnorm"):
        constraints.get("maxnorm")
    with pytest.raises(TypeError, match="Received: constraint=<function"):
        layers.Dense(2, kernel_constraint=lambda w: w)
    with pytest.raises(ValueError, match="Unknown constraint: 'Clip'"):
        constraints.deserialize({"class_name": "Clip", "config": {}})
    model = convlite.Sequential([layers.Input((4,)), layers.Dense(3, kernel_constraint=constraints.MaxNorm(axis=2))])
    model.compile("sgd", "mse")
    with pytest.raises(ValueError, match=r"out of range.*Received: axis=2"):
        model.train_on_batch(np.ones((2, 4), np.float32), np.zeros((2, 3), np.float32))


def test_threads_one_and_two_bit_identical(rng):
    x = rng.standard_normal((64, 40, 4)).astype(np.float32)
    y = rng.integers(0, 2, 64).astype(np.float32)[:, None]
    results = []
    for threads in (1, 2):
        with using_threads(threads):
            model = convlite.Sequential([
                layers.Input((40, 4)),
                layers.DepthwiseConv1D(5, depth_multiplier=2, depthwise_constraint=constraints.MaxNorm(1.0),
                                       activation="elu"),
                layers.SeparableConv1D(8, 3, depthwise_constraint="unit_norm", pointwise_constraint="max_norm"),
                layers.BatchNormalization(gamma_constraint="non_neg", beta_constraint=constraints.MaxNorm(0.1)),
                layers.Flatten(), layers.Dense(1, activation="sigmoid", kernel_constraint=constraints.MaxNorm(0.25))])
            model.set_weights([np.cos(np.arange(w.size, dtype=np.float32)).reshape(w.shape) * 0.3
                               for w in model.get_weights()])
            model.compile("adam", "binary_crossentropy")
            loss = model.fit(x, y, epochs=2, batch_size=16, shuffle=False, verbose=0).history["loss"]
            results.append((loss, model.get_weights()))
    assert results[0][0] == results[1][0]
    for a, b in zip(results[0][1], results[1][1]):
        np.testing.assert_array_equal(a, b)


# ------------------------------------------------------------------ against Keras
def _eegnet_like(lib):
    L, C = lib.layers, lib.constraints
    return lib.Sequential([
        lib.Input((6, 32, 1)),
        L.Conv2D(4, (1, 7), padding="same", use_bias=False, kernel_constraint=C.UnitNorm(axis=[0, 1, 2])),
        L.BatchNormalization(gamma_constraint=C.NonNeg(), beta_constraint=C.MinMaxNorm(0.0, 0.5, rate=0.5)),
        L.DepthwiseConv2D((6, 1), depth_multiplier=2, use_bias=False, depthwise_constraint=C.MaxNorm(1.0)),
        L.Activation("elu"), L.AveragePooling2D((1, 4)), L.Flatten(),
        L.Dense(3, activation="softmax", kernel_constraint=C.MaxNorm(0.25), bias_constraint=C.NonNeg())])


def _dense_conv1d(lib):
    L, C = lib.layers, lib.constraints
    return lib.Sequential([
        lib.Input((15, 2)),
        L.Conv1D(3, 4, activation="relu", kernel_constraint=C.MaxNorm(0.6, axis=[0, 1]),
                 bias_constraint=C.NonNeg()),
        L.SeparableConv1D(4, 3, depthwise_constraint=C.UnitNorm(axis=0), pointwise_constraint=C.MaxNorm(0.5)),
        L.Flatten(), L.Dense(1, kernel_constraint=C.MinMaxNorm(0.3, 0.8, rate=0.9, axis=0))])


@pytest.mark.tensorflow
@pytest.mark.parametrize("build", [_eegnet_like, _dense_conv1d])
@pytest.mark.parametrize("opt", ["sgd", "adam"])
def test_training_matches_keras(rng, build, opt):
    keras = _keras()
    theirs, ours = build(keras), build(convlite)
    ours.set_weights(theirs.get_weights())
    n = 32
    x = rng.standard_normal((n,) + theirs.input_shape[1:]).astype(np.float32)
    if theirs.output_shape[-1] == 3:
        y, loss = rng.integers(0, 3, n), "sparse_categorical_crossentropy"
    else:
        y, loss = rng.standard_normal((n, 1)).astype(np.float32), "mse"
    for model, lib in ((theirs, keras), (ours, convlite)):
        optimizer = lib.optimizers.SGD(0.05, momentum=0.9) if opt == "sgd" else lib.optimizers.Adam(0.01)
        model.compile(optimizer, loss)
    fit = dict(batch_size=8, epochs=3, shuffle=False, verbose=0)
    want, got = theirs.fit(x, y, **fit).history["loss"], ours.fit(x, y, **fit).history["loss"]
    np.testing.assert_allclose(got, want, rtol=1e-4)
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-4 * max(1.0, np.abs(b).max()))


@pytest.mark.tensorflow
def test_configs_and_files_round_trip_with_keras(tmp_path, rng):
    keras = _keras()
    for ours, theirs in [(constraints.MaxNorm(0.25, axis=[0, 1]), keras.constraints.MaxNorm(0.25, axis=[0, 1])),
                         (constraints.NonNeg(), keras.constraints.NonNeg()),
                         (constraints.UnitNorm(axis=-1), keras.constraints.UnitNorm(axis=-1)),
                         (constraints.MinMaxNorm(0.1, 2.0, 0.5, 1), keras.constraints.MinMaxNorm(0.1, 2.0, 0.5, 1))]:
        assert constraints.serialize(ours) == keras.constraints.serialize(theirs)
        assert constraints.get(theirs).get_config() == theirs.get_config()
    theirs = _eegnet_like(keras)
    theirs.compile(keras.optimizers.Adam(0.01), "sparse_categorical_crossentropy")
    theirs.save(tmp_path / "k.keras")
    ours = convlite.models.load_model(tmp_path / "k.keras")  # compiled from the file's compile_config
    x, y = rng.standard_normal((16, 6, 32, 1)).astype(np.float32), rng.integers(0, 3, 16)
    fit = dict(batch_size=8, epochs=2, shuffle=False, verbose=0)
    np.testing.assert_allclose(ours.fit(x, y, **fit).history["loss"], theirs.fit(x, y, **fit).history["loss"],
                               rtol=1e-4)
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-4 * max(1.0, np.abs(b).max()))
    ours.save(tmp_path / "c.keras")
    back = keras.models.load_model(tmp_path / "c.keras")
    for lk, lc, lb in zip(theirs.layers, ours.layers, back.layers):
        want = lk.get_config()
        for key in [k for k in want if "constraint" in k or "regularizer" in k]:
            assert lc.get_config()[key] == want[key]
            assert lb.get_config()[key] == want[key]

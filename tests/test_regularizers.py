"""Regularizers: the objects (values, configs, argument checks as Keras 3.15), the penalty and its gradient inside
the compiled step against a float64 numpy model (finite differences), threads 1 vs 2 bit-identical, and whole
training runs against Keras (kernel, bias and activity regularizers with SGD and Adam; loss_weights, clipnorm and
frozen layers) plus file round trips both ways."""
import numpy as np
import pytest

import convlite
from convlite import layers, regularizers

from helpers import tensorflow_or_skip, using_threads
from ref_regul import penalty, penalty_grad


def _keras():
    tensorflow_or_skip()
    import keras

    return keras


# ------------------------------------------------------------------ the objects
@pytest.mark.parametrize("reg, l1, l2", [(regularizers.L1(0.3), 0.3, 0.0), (regularizers.L2(0.1), 0.0, 0.1),
                                         (regularizers.L1L2(0.2, 0.05), 0.2, 0.05), (regularizers.get("l1"), 0.01, 0),
                                         (regularizers.get("l2"), 0.0, 0.01), (regularizers.get("l1l2"), 0.0, 0.0)])
def test_value_is_keras_formula(rng, reg, l1, l2):
    w = rng.standard_normal((3, 5, 7))
    assert reg(w) == pytest.approx(penalty(w, l1, l2), rel=1e-12)


@pytest.mark.parametrize("bad", [-1.0, float("nan"), float("inf"), "x", None.__class__])
def test_bad_factor_is_keras_value_error(bad):
    with pytest.raises(ValueError, match=r"Invalid value for argument l2: expected a non-negative float"):
        regularizers.L2(bad)
    with pytest.raises(ValueError, match=r"Received: l1="):
        regularizers.L1L2(l1=bad)


def test_get_and_refusals():
    assert isinstance(regularizers.get("L1L2"), regularizers.L1L2)
    # Keras's lookup knows 'l1l2' (and its docs say 'l1_l2'): both give Keras's L1L2(), factors 0
    assert regularizers.get("l1_l2").get_config() == regularizers.get("l1l2").get_config() == {"l1": 0.0, "l2": 0.0}
    assert regularizers.get(None) is None
    with pytest.raises(ValueError, match="Could not interpret regularizer identifier: nope"):
        regularizers.get("nope")
    with pytest.raises(TypeError, match="Received: regularizer=<function"):
        regularizers.get(lambda w: 0.0)
    with pytest.raises(ValueError, match="does not train OrthogonalRegularizer.*Received: kernel_regularizer="):
        layers.Dense(2, kernel_regularizer=regularizers.OrthogonalRegularizer())
    with pytest.raises(ValueError, match="activity_regularizer.*Received: activity_regularizer="):
        layers.MaxPooling2D(activity_regularizer="l2")
    with pytest.raises(TypeError, match="depthwise_regularizer"):
        layers.Conv2D(2, 3, depthwise_regularizer="l2")


@pytest.mark.tensorflow
def test_configs_match_keras():
    keras = _keras()
    for ours, theirs in [(regularizers.L1(0.01), keras.regularizers.L1(0.01)),
                         (regularizers.L2(0.2), keras.regularizers.L2(0.2)),
                         (regularizers.L1L2(0.1, 0.3), keras.regularizers.L1L2(0.1, 0.3)),
                         (regularizers.OrthogonalRegularizer(0.5, "columns"),
                          keras.regularizers.OrthogonalRegularizer(0.5, "columns"))]:
        assert regularizers.serialize(ours) == keras.regularizers.serialize(theirs)
        assert regularizers.deserialize(keras.regularizers.serialize(theirs)).get_config() == theirs.get_config()
    assert regularizers.get(keras.regularizers.L2(0.3)).get_config() == {"l2": 0.3}  # Keras's object via config
    w = np.random.default_rng(1).standard_normal((6, 4)).astype(np.float32)
    orth = keras.regularizers.OrthogonalRegularizer(0.5, "rows")
    assert regularizers.OrthogonalRegularizer(0.5)(w) == pytest.approx(float(orth(w)), rel=1e-5)


# ------------------------------------------------------------------ penalty and gradient inside the step
def _mlp(lib_layers, reg_kernel, reg_bias, reg_activity):
    return [layers.Input((5,)),
            lib_layers.Dense(4, activation="tanh", kernel_regularizer=reg_kernel, bias_regularizer=reg_bias,
                             activity_regularizer=reg_activity, bias_initializer="glorot_uniform"),
            lib_layers.Dense(2, kernel_regularizer=reg_kernel)]


def _reference_loss(params, x, y, kernel, bias, activity):
    w1, b1, w2, b2 = params
    h = np.tanh(x @ w1 + b1)
    out = h @ w2 + b2
    loss = np.mean(np.mean((out - y) ** 2, axis=1))
    loss += penalty(w1, *kernel) + penalty(b1, *bias) + penalty(w2, *kernel)
    return loss + penalty(h, *activity) / x.shape[0]


def test_step_loss_and_gradient_match_finite_differences(rng):
    kernel, bias, activity = (0.01, 0.02), (0.0, 0.3), (0.02, 0.05)
    model = convlite.Sequential(_mlp(layers, regularizers.L1L2(*kernel), regularizers.L2(bias[1]),
                                     regularizers.L1L2(*activity)))
    lr = 1e-3
    model.compile(convlite.optimizers.SGD(lr), "mse")
    x = rng.standard_normal((7, 5)).astype(np.float32)
    y = rng.standard_normal((7, 2)).astype(np.float32)
    before = [w.astype(np.float64) for w in model.get_weights()]
    loss = float(model.train_on_batch(x, y))
    after = [w.astype(np.float64) for w in model.get_weights()]
    xd, yd = x.astype(np.float64), y.astype(np.float64)
    assert loss == pytest.approx(_reference_loss(before, xd, yd, kernel, bias, activity), rel=2e-6)
    h = 1e-6
    for i, w in enumerate(before):
        grad = (w - after[i]) / lr
        fd = np.zeros_like(w)
        for idx in np.ndindex(w.shape):
            plus = [p.copy() for p in before]
            minus = [p.copy() for p in before]
            plus[i][idx] += h
            minus[i][idx] -= h
            fd[idx] = (_reference_loss(plus, xd, yd, kernel, bias, activity)
                       - _reference_loss(minus, xd, yd, kernel, bias, activity)) / (2 * h)
        np.testing.assert_allclose(grad, fd, rtol=2e-3, atol=2e-4)


def test_weight_penalty_gradient_is_keras_formula(rng):
    """One SGD step on a linear model with zero data gradient: w1 = w0 - lr * (l1 sign(w0) + 2 l2 w0)."""
    model = convlite.Sequential([layers.Input((6,)), layers.Dense(5, kernel_regularizer=regularizers.L1L2(0.3, 0.2),
                                                                 use_bias=False)])
    model.compile(convlite.optimizers.SGD(0.5), "mse")
    w0 = rng.standard_normal((6, 5)).astype(np.float32)
    w0[0, 0] = 0.0  # sign(0) = 0, as TensorFlow's abs gradient
    model.set_weights([w0])
    loss = model.train_on_batch(np.zeros((3, 6), np.float32), np.zeros((3, 5), np.float32))
    assert loss == pytest.approx(penalty(w0, 0.3, 0.2), rel=1e-6)
    np.testing.assert_allclose(model.get_weights()[0], w0 - 0.5 * penalty_grad(w0, 0.3, 0.2), rtol=1e-6, atol=1e-7)


def test_no_regularizer_no_change(rng):
    """A model without regularizers trains exactly as before (the step skips the work)."""
    x = rng.standard_normal((9, 5)).astype(np.float32)
    y = rng.standard_normal((9, 2)).astype(np.float32)
    runs = []
    for reg in (None, regularizers.L1L2(0.0, 0.0)):
        model = convlite.Sequential(_mlp(layers, reg, reg, None))
        model.set_weights([np.full(w.shape, 0.1 * (i + 1), np.float32) for i, w in enumerate(model.get_weights())])
        model.compile("adam", "mse")
        runs.append((model.fit(x, y, epochs=2, batch_size=4, shuffle=False, verbose=0).history["loss"],
                     model.get_weights()))
    assert runs[0][0] == runs[1][0]
    for a, b in zip(runs[0][1], runs[1][1]):
        np.testing.assert_array_equal(a, b)


def test_threads_one_and_two_bit_identical(rng):
    x = rng.standard_normal((128, 16, 16, 3)).astype(np.float32)  # 64-sample steps: above the one-thread cutoff
    y = rng.integers(0, 3, 128)
    results = []
    for threads in (1, 2):
        with using_threads(threads):
            model = convlite.Sequential([
                layers.Input((16, 16, 3)),
                layers.Conv2D(16, 3, activation="relu", kernel_regularizer="l2", activity_regularizer="l1"),
                layers.MaxPooling2D(), layers.Flatten(),
                layers.Dense(3, activation="softmax", kernel_regularizer=regularizers.L1L2(0.01, 0.01))])
            model.set_weights([np.sin(np.arange(w.size, dtype=np.float32)).reshape(w.shape) * 0.1
                               for w in model.get_weights()])
            model.compile("adam", "sparse_categorical_crossentropy")
            loss = model.fit(x, y, epochs=2, batch_size=64, shuffle=False, verbose=0).history["loss"]
            results.append((loss, model.get_weights()))
    assert results[0][0] == results[1][0]
    for a, b in zip(results[0][1], results[1][1]):
        np.testing.assert_array_equal(a, b)


# ------------------------------------------------------------------ against Keras
def _conv_models(lib, kernel_reg, activity_reg, frozen=False):
    L, R = lib.layers, lib.regularizers
    model = lib.Sequential([
        lib.Input((11, 9, 2)),
        L.Conv2D(4, 3, activation="relu", kernel_regularizer=kernel_reg(R), bias_regularizer=R.L2(0.05),
                 activity_regularizer=activity_reg(R)),
        L.MaxPooling2D(), L.Flatten(),
        L.Dense(6, activation="relu", kernel_regularizer=R.L1(0.01), bias_regularizer=R.L1L2(0.01, 0.01)),
        L.Dense(3, activation="softmax", activity_regularizer=R.L1(0.001))])
    model.layers[0].trainable = not frozen
    return model


def _conv1d_models(lib, kernel_reg, activity_reg, frozen=False):
    L, R = lib.layers, lib.regularizers
    return lib.Sequential([
        lib.Input((20, 3)),
        L.Conv1D(5, 4, activation="relu", kernel_regularizer=kernel_reg(R), activity_regularizer=activity_reg(R)),
        L.Flatten(), L.Dense(1, kernel_regularizer=R.L2(0.02), bias_regularizer=R.L1(0.1))])


CASES = [
    ("conv2d-l2-sgd-sample-weight", _conv_models, lambda R: R.L2(0.02), lambda R: R.L2(0.001), "sgd", {"sw": 1}),
    ("conv2d-l1l2-adam", _conv_models, lambda R: R.L1L2(0.01, 0.02), lambda R: R.L1(0.002), "adam", {}),
    ("conv2d-frozen-adam", _conv_models, lambda R: R.L2(0.5), lambda R: R.L2(0.01), "adam", {"frozen": True}),
    ("conv1d-l1-sgd-clipnorm", _conv1d_models, lambda R: R.L1(0.05), lambda R: R.L1L2(0.01, 0.01), "sgd-clip", {}),
    ("conv1d-l2-adam-loss-weight", _conv1d_models, lambda R: R.L2(0.1), lambda R: R.L2(0.01), "adam", {"lw": 2.5}),
]


def _optimizer(lib, name):
    if name == "sgd":
        return lib.optimizers.SGD(0.05, momentum=0.9)
    if name == "sgd-clip":
        return lib.optimizers.SGD(0.05, clipnorm=0.1)
    return lib.optimizers.Adam(0.01)


@pytest.mark.tensorflow
@pytest.mark.parametrize("name, build, kernel_reg, activity_reg, opt, extra", CASES, ids=[c[0] for c in CASES])
def test_training_matches_keras(rng, name, build, kernel_reg, activity_reg, opt, extra):
    keras = _keras()
    frozen = extra.get("frozen", False)
    theirs = build(keras, kernel_reg, activity_reg, frozen)
    ours = build(convlite, kernel_reg, activity_reg, frozen)
    ours.set_weights(theirs.get_weights())
    shape = theirs.input_shape[1:]
    n = 37  # 30 training samples in batches of 8: the last batch is partial (its penalty weighs 6 / 30)
    x = rng.standard_normal((n,) + shape).astype(np.float32)
    if theirs.output_shape[-1] == 3:
        y, loss = rng.integers(0, 3, n), "sparse_categorical_crossentropy"
    else:
        y, loss = rng.standard_normal((n, 1)).astype(np.float32), "mse"
    for model, lib in ((theirs, keras), (ours, convlite)):
        model.compile(_optimizer(lib, opt), loss, loss_weights=extra.get("lw"))
    fit = dict(batch_size=8, epochs=3, shuffle=False, verbose=0, validation_split=0.2)
    if extra.get("sw"):  # sample weights scale the data loss only
        fit["sample_weight"] = np.linspace(0.2, 2.0, n)
    want, got = theirs.fit(x, y, **fit).history, ours.fit(x, y, **fit).history
    for key in ("loss", "val_loss"):  # both include the penalties; loss_weights scale the data loss only
        np.testing.assert_allclose(got[key], want[key], rtol=1e-4)
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-4 * max(1.0, np.abs(b).max()))
    assert ours.evaluate(x, y, verbose=0) == pytest.approx(theirs.evaluate(x, y, verbose=0), rel=1e-4)


@pytest.mark.tensorflow
def test_files_round_trip_with_keras(tmp_path, rng):
    keras = _keras()
    theirs = _conv_models(keras, lambda R: R.L1L2(0.01, 0.02), lambda R: R.L2(0.003))
    theirs.compile("adam", "sparse_categorical_crossentropy")
    theirs.save(tmp_path / "k.keras")
    ours = convlite.models.load_model(tmp_path / "k.keras")
    for lk, lc in zip(theirs.layers, ours.layers):
        for key in [k for k in lk.get_config() if "regularizer" in k or "constraint" in k]:
            assert lc.get_config()[key] == lk.get_config()[key]
    x = rng.standard_normal((16, 11, 9, 2)).astype(np.float32)
    y = rng.integers(0, 3, 16)
    assert ours.evaluate(x, y, verbose=0) == pytest.approx(theirs.evaluate(x, y, verbose=0), rel=1e-5)
    ours.save(tmp_path / "c.keras")
    back = keras.models.load_model(tmp_path / "c.keras")
    for lk, lb in zip(theirs.layers, back.layers):
        cfg_k, cfg_b = lk.get_config(), lb.get_config()
        for key in [k for k in cfg_k if "regularizer" in k or "constraint" in k]:
            assert cfg_b[key] == cfg_k[key]
    assert back.evaluate(x, y, verbose=0) == pytest.approx(theirs.evaluate(x, y, verbose=0), rel=1e-5)


@pytest.mark.tensorflow
@pytest.mark.parametrize("cls, args, kwargs", [
    ("Dense", (3,), dict(kernel_regularizer="l1", bias_regularizer={"class_name": "L2", "config": {"l2": 0.2}},
                         activity_regularizer="l1l2", kernel_constraint="max_norm", bias_constraint="non_neg")),
    ("Dense", (3,), {}),
    ("Conv1D", (2, 3), dict(kernel_regularizer="l2", activity_regularizer="l1", kernel_constraint="unit_norm")),
    ("Conv2D", (2, 3), dict(bias_regularizer="l2", bias_constraint="min_max_norm")),
    ("DepthwiseConv1D", (3,), dict(depthwise_regularizer="l2", depthwise_constraint="max_norm")),
    ("DepthwiseConv2D", (3,), dict(bias_regularizer="l1", activity_regularizer="l2")),
    ("SeparableConv1D", (2, 3), dict(depthwise_regularizer="l1", pointwise_regularizer="l2",
                                     pointwise_constraint="non_neg")),
    ("SeparableConv2D", (2, 3), dict(depthwise_constraint="unit_norm", bias_regularizer="l2")),
    ("BatchNormalization", (), dict(beta_regularizer="l2", gamma_regularizer="l1", beta_constraint="max_norm",
                                    gamma_constraint="non_neg", activity_regularizer="l2")),
    ("BatchNormalization", (), {}),
])
def test_layer_config_keys_match_keras(cls, args, kwargs):
    keras = _keras()
    ours, theirs = getattr(layers, cls)(*args, **kwargs), getattr(keras.layers, cls)(*args, **kwargs)

    def penalties(config):
        return {k: v for k, v in config.items() if "regularizer" in k or "constraint" in k}

    assert penalties(ours.get_config()) == penalties(theirs.get_config())
    rebuilt = getattr(layers, cls).from_config(ours.get_config())
    assert penalties(rebuilt.get_config()) == penalties(theirs.get_config())


@pytest.mark.tensorflow
@pytest.mark.parametrize("activation, loss", [("softmax", "sparse_categorical_crossentropy"),
                                              ("sigmoid", "binary_crossentropy")])
def test_activity_on_saturated_output_keeps_logits_loss(rng, activation, loss):
    """An activity penalty on the sigmoid / softmax output does not change where Keras takes the cross-entropy from
    (the logits): with saturated outputs the clipped-probability loss would differ by orders of magnitude."""
    keras = _keras()

    def build(lib):
        L, R = lib.layers, lib.regularizers
        return lib.Sequential([lib.Input((6,)), L.Dense(5, activation="relu"),
                               L.Dense(3 if activation == "softmax" else 1, activation=activation,
                                       activity_regularizer=R.L1L2(0.01, 0.05))])

    theirs, ours = build(keras), build(convlite)
    theirs.set_weights([w * 8 for w in theirs.get_weights()])  # logits in the tens: probabilities saturate
    ours.set_weights(theirs.get_weights())
    x = rng.standard_normal((24, 6)).astype(np.float32) * 3
    y = rng.integers(0, 3, 24) if activation == "softmax" else rng.integers(0, 2, (24, 1)).astype(np.float32)
    for model, lib in ((theirs, keras), (ours, convlite)):
        model.compile(lib.optimizers.SGD(0.05), loss)
    fit = dict(batch_size=8, epochs=3, shuffle=False, verbose=0)
    np.testing.assert_allclose(ours.fit(x, y, **fit).history["loss"], theirs.fit(x, y, **fit).history["loss"],
                               rtol=1e-5)
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5 * max(1.0, np.abs(b).max()))

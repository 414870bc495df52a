"""Non-finite data: NaN/Inf in inputs, labels or weights never crash; losses report nan; TerminateOnNaN stops fit."""
from __future__ import annotations

import numpy as np
import pytest

import convlite
import convlite.nn as nn
from convlite import layers, losses

SPECIALS = (np.nan, np.inf, -np.inf)


def _model(loss="sparse_categorical_crossentropy", units=3, activation="softmax", conv_activation="relu"):
    convlite.utils.set_random_seed(5)
    model = convlite.Sequential([layers.Input((6, 6, 2)), layers.Conv2D(4, 3, activation=conv_activation),
                                 layers.MaxPooling2D(), layers.Flatten(), layers.BatchNormalization(),
                                 layers.Dense(units, activation=activation)])
    model.compile("adam", loss, metrics=["accuracy"] if "crossentropy" in loss else None)
    return model


def _data(n=16):
    rng = np.random.default_rng(0)
    return rng.standard_normal((n, 6, 6, 2)).astype(np.float32), rng.integers(0, 3, n)


@pytest.mark.parametrize("special", SPECIALS)
def test_nn_ops_propagate_non_finite_inputs(special):
    x = np.zeros((1, 5, 5, 2), np.float32)
    x[0, 2, 2, 1] = special
    k = np.ones((3, 3, 2, 2), np.float32)
    y = nn.conv2d(x, k, 1, "SAME")
    assert not np.isfinite(y[0, 1:4, 1:4]).any() and np.isfinite(y[0, 0]).all()  # exactly the windows it touches
    assert not np.isfinite(nn.depthwise_conv2d(x, k[..., :1], 1, "VALID")[0, 1, 1, 1])
    assert not np.isfinite(nn.avg_pool2d(x, 2, 2, "SAME")[0, 1, 1, 1])
    for fn in (nn.relu, nn.sigmoid, nn.tanh, nn.elu, nn.gelu, nn.softplus, nn.softmax, nn.log_softmax):
        out = fn(x)
        assert out.shape == x.shape and np.isfinite(out[0, 0]).all()
    nn.max_pool2d(x, 2, 2, "SAME")  # NaN handling of max is order-dependent (as in TF): just no crash


@pytest.mark.parametrize("special", SPECIALS)
def test_loss_functions_report_nan(special):
    y_true = np.array([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]], np.float32)
    y_pred = np.array([[0.2, 0.7, 0.1], [0.5, 0.3, 0.2]], np.float32)
    bad_pred, bad_true = y_pred.copy(), y_true.copy()
    bad_pred[0, 1], bad_true[1, 2] = special, special
    for loss in (losses.CategoricalCrossentropy(), losses.CategoricalCrossentropy(from_logits=True),
                 losses.BinaryCrossentropy(), losses.BinaryCrossentropy(from_logits=True), losses.MeanSquaredError(),
                 losses.MeanAbsoluteError(), losses.Huber()):
        assert np.isfinite(loss(y_true, y_pred))
        for t, p in ((y_true, bad_pred), (bad_true, y_pred)):
            value = float(loss(t, p))
            # Keras clips probabilities to [eps, 1 - eps], so an infinite probability gives a finite loss there too
            # (checked against keras.losses: every value here equals Keras's, nan and inf included).
            clipped = p is bad_pred and not np.isnan(special) and isinstance(loss, losses.BinaryCrossentropy) and \
                not loss.from_logits
            assert np.isfinite(value) == clipped, f"{type(loss).__name__}: {value}"
    if np.isnan(special):
        assert np.isnan(float(losses.SparseCategoricalCrossentropy()(np.array([1, 0]), bad_pred)))


@pytest.mark.parametrize("where", ["x", "y"])
def test_training_on_nan_reports_nan_and_does_not_crash(where):
    x, y = _data()
    model = _model("mse", units=3, activation="linear", conv_activation="tanh")
    y = np.eye(3, dtype=np.float32)[y]
    if where == "x":
        x[3, 1, 1, 0] = np.nan
    else:
        y[5, 2] = np.nan
    history = model.fit(x, y, batch_size=8, epochs=2, verbose=0)
    assert np.isnan(history.history["loss"]).all()
    assert np.isnan(model.evaluate(x, y, verbose=0))
    model.predict(x, verbose=0)  # weights may now be nan; predicting still works (no crash)


def test_inf_inputs_and_sparse_labels_do_not_crash():
    x, y = _data()
    x[0] = np.inf
    x[1] = -np.inf
    model = _model()
    model.fit(x, y, batch_size=4, epochs=1, verbose=0)
    out = model.predict(x, verbose=0)
    assert out.shape == (16, 3)
    # Labels out of the class range are an error in Keras; here they must be clean errors or nan, never a crash.
    for labels in (np.full(16, 3), np.full(16, -1), np.full(16, 2**40)):
        try:
            loss = model.evaluate(x[2:], labels[2:], verbose=0)[0]
        except (ValueError, IndexError) as err:
            assert "Received" in str(err) or "label" in str(err).lower()
        else:
            assert isinstance(loss, float)


def test_terminate_on_nan_stops_training():
    x, y = _data(32)
    y = np.eye(3, dtype=np.float32)[y]
    y[20:] = np.nan  # a later batch (unshuffled) turns the loss into nan
    model = _model("categorical_crossentropy")
    seen = []
    callback = convlite.callbacks.LambdaCallback(on_train_batch_end=lambda batch, logs: seen.append(batch))
    history = model.fit(x, y, batch_size=8, epochs=5, shuffle=False, verbose=0,
                        callbacks=[convlite.callbacks.TerminateOnNaN(), callback])
    assert len(history.history["loss"]) == 1  # stopped in the first epoch
    assert seen == [0, 1, 2]  # batch 2 holds rows 16..23, the first with a NaN label
    with pytest.raises(RuntimeError, match="NaN or Inf loss"):
        _model("categorical_crossentropy").fit(x, y, batch_size=8, epochs=3, shuffle=False, verbose=0,
                                               callbacks=[convlite.callbacks.TerminateOnNaN(raise_error=True)])


def test_fused_relu_keeps_nan_like_tf():
    x = np.zeros((1, 3, 3, 1), np.float32)
    x[0, 1, 1, 0] = np.nan
    assert np.isnan(nn.relu(x)[0, 1, 1, 0])
    assert np.isnan(convlite._core.conv2d(x, np.ones((1, 1, 1, 1), np.float32), None, activation="relu")[0, 1, 1, 0])

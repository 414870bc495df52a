"""fit/evaluate/predict with convlite.callbacks: progress output, early stopping, learning-rate changes, NaN."""
from __future__ import annotations

import re

import numpy as np
import pytest

import convlite
from convlite import callbacks, layers, optimizers

ANSI = re.compile(r"\x1b\[[0-9;]*m")


def plain(text):
    """Output without colour codes and backspaces, split into the lines a terminal would end up showing."""
    return [line for line in re.split(r"[\r\n]", ANSI.sub("", text).replace("\b", "")) if line.strip()]


def model_and_data(rng, n=40, activation="relu"):
    model = convlite.Sequential([convlite.Input((6,)), layers.Dense(4, activation=activation),
                                 layers.Dense(1, activation="sigmoid")])
    model.compile(optimizers.SGD(0.1), "binary_crossentropy", metrics=["accuracy"])
    x = rng.normal(size=(n, 6)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.float32)
    return model, x, y


def test_verbose_1_draws_keras_progress_bar(rng, capsys):
    model, x, y = model_and_data(rng)
    model.fit(x, y, epochs=2, batch_size=10, verbose=1, validation_split=0.25)
    lines = plain(capsys.readouterr().out)
    assert "Epoch 1/2" in lines and "Epoch 2/2" in lines
    final = [line for line in lines if line.startswith("3/3")][-1]
    assert re.search(r"3/3 ━{20} \d+s \d+[mu]?s/step - accuracy: \d\.\d{4} - loss: \d\.\d{4} - "
                     r"val_accuracy: \d\.\d{4} - val_loss: \d\.\d{4}", final), final


def test_verbose_2_prints_one_line_per_epoch(rng, capsys):
    model, x, y = model_and_data(rng)
    model.fit(x, y, epochs=2, batch_size=16, verbose=2)
    lines = plain(capsys.readouterr().out)
    assert lines[0] == "Epoch 1/2" and lines[2] == "Epoch 2/2"
    assert re.fullmatch(r"3/3 - \d+s - \d+[mu]?s/step - accuracy: \d\.\d{4} - loss: \d\.\d{4}", lines[1]), lines[1]


def test_evaluate_and_predict_progress(rng, capsys):
    model, x, y = model_and_data(rng)
    model.evaluate(x, y, batch_size=20)
    model.predict(x, batch_size=20)
    lines = plain(capsys.readouterr().out)
    finals = [line for line in lines if line.startswith("2/2")]
    assert re.fullmatch(r"2/2 ━{20} \d+s \d+[mu]?s/step - accuracy: \d\.\d{4} - loss: \d\.\d{4}", finals[0].strip())
    assert re.fullmatch(r"2/2 ━{20} \d+s \d+[mu]?s/step", finals[-1].strip())
    model.fit(x, y, epochs=1, verbose=0)
    model.evaluate(x, y, verbose=0)
    model.predict(x, verbose=0)
    assert capsys.readouterr().out == ""


def test_batch_hooks_get_keras_logs(rng):
    model, x, y = model_and_data(rng)
    seen = []
    cb = callbacks.LambdaCallback(on_train_batch_end=lambda batch, logs: seen.append((batch, dict(logs))))
    history = model.fit(x, y, epochs=1, batch_size=16, verbose=0, callbacks=[cb])
    assert [b for b, _ in seen] == [0, 1, 2]
    assert list(seen[-1][1]) == ["accuracy", "loss"]
    assert seen[-1][1]["loss"] == pytest.approx(history.history["loss"][0])


def test_early_stopping_restores_best_weights(rng):
    model, x, y = model_and_data(rng)
    best = {}

    class Recorder(callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            best.setdefault("all", []).append((logs["val_loss"], self.model.get_weights()))

    model.compile(optimizers.SGD(3.0), "binary_crossentropy")  # a rate high enough to make val_loss bounce
    stop = callbacks.EarlyStopping(patience=1, restore_best_weights=True)
    history = model.fit(x, y, epochs=30, batch_size=8, validation_split=0.5, verbose=0,
                        callbacks=[Recorder(), stop])
    assert len(history.history["loss"]) < 30
    loss, weights = min(best["all"], key=lambda item: item[0])
    for a, b in zip(model.get_weights(), weights):
        np.testing.assert_array_equal(a, b)


def test_learning_rate_callbacks_reach_the_compiled_step(rng):
    model, x, y = model_and_data(rng)
    frozen = model.get_weights()
    sched = callbacks.LearningRateScheduler(lambda epoch, lr: 0.0)
    model.fit(x, y, epochs=2, verbose=0, callbacks=[sched])
    for a, b in zip(model.get_weights(), frozen):  # lr 0: SGD without momentum does not move
        np.testing.assert_array_equal(a, b)
    assert model.optimizer.iterations == 4


def test_schedule_and_iterations(rng):
    model, x, y = model_and_data(rng)
    schedule = optimizers.schedules.PiecewiseConstantDecay([1], [0.1, 0.0])
    model.compile(optimizers.SGD(schedule), "binary_crossentropy")
    model.fit(x, y, epochs=1, batch_size=20, verbose=0)  # two steps at 0.1
    after_two = model.get_weights()
    model.fit(x, y, epochs=1, batch_size=20, verbose=0)  # steps 3 and 4 at 0.0
    for a, b in zip(model.get_weights(), after_two):
        np.testing.assert_array_equal(a, b)
    assert model.optimizer.iterations == 4


def test_terminate_on_nan_stops_the_run(rng):
    model, x, y = model_and_data(rng, activation="tanh")
    x[5, 0] = np.nan
    history = model.fit(x, y, epochs=5, batch_size=4, verbose=0, shuffle=False,
                        callbacks=[callbacks.TerminateOnNaN()])
    assert len(history.history["loss"]) == 1
    assert model.stop_training

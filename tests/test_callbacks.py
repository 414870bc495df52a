"""Callbacks on a fake model: Keras 3 behaviour, checked directly and by running Keras's own callbacks side by side."""
from __future__ import annotations

import itertools
import math
import time

import numpy as np
import pytest

from helpers import tensorflow_or_skip

import convlite.callbacks as ours


class FakeOptimizer:
    def __init__(self, learning_rate=0.01):
        self.learning_rate = learning_rate


class FakeModel:
    """Just what callbacks touch: weights, stop_training, optimizer, save/save_weights."""

    def __init__(self):
        self.weights = [np.zeros((2, 3), np.float32), np.zeros(3, np.float32)]
        self.stop_training = False
        self.optimizer = FakeOptimizer()
        self.saved = []

    def get_weights(self):
        return [w.copy() for w in self.weights]

    def set_weights(self, weights):
        self.weights = [np.array(w) for w in weights]

    def save(self, filepath, overwrite=True):
        self.saved.append(("save", filepath))
        open(filepath, "w").close()

    def save_weights(self, filepath, overwrite=True):
        self.saved.append(("save_weights", filepath))
        open(filepath, "w").close()


def fit(cb_module, callbacks, epoch_logs, steps=3, verbose=0, batch_losses=None, model=None):
    """Drive the hooks as Keras's fit does: weights become `epoch` during epoch `epoch`; validation via on_test_*."""
    model = model or FakeModel()
    epochs = len(epoch_logs)
    cblist = cb_module.CallbackList(callbacks, add_history=True, add_progbar=verbose != 0, model=model,
                                    verbose=verbose, epochs=epochs, steps=steps)
    model.stop_training = False
    cblist.on_train_begin()
    for epoch, logs in enumerate(epoch_logs):
        cblist.on_epoch_begin(epoch)
        for step in range(steps):
            cblist.on_train_batch_begin(step)
            model.weights = [np.full_like(w, epoch) for w in model.weights]
            loss = batch_losses[epoch][step] if batch_losses else logs.get("loss", 1.0) + (steps - step) * 0.01
            cblist.on_train_batch_end(step, {"loss": loss, "accuracy": logs.get("accuracy", 0.5)})
            if model.stop_training:
                break
        val = {k: v for k, v in logs.items() if k.startswith("val_")}
        if val:
            cblist.on_test_begin()
            cblist.on_test_batch_begin(0)
            cblist.on_test_batch_end(0, {k[4:]: v for k, v in val.items()})
            cblist.on_test_end({k[4:]: v for k, v in val.items()})
        cblist.on_epoch_end(epoch, dict(logs))
        if model.stop_training:
            break
    cblist.on_train_end()
    return model


def losses(*values, **extra):
    return [{"loss": v, "val_loss": v, **{k: extra[k][i] for k in extra}} for i, v in enumerate(values)]


# --- behaviour checked directly ------------------------------------------------------------------------------

def test_history_records_epochs_and_sets_model_history():
    model = fit(ours, [], losses(3.0, 2.0, 1.0, accuracy=[0.1, 0.2, 0.3]))
    assert model.history.epoch == [0, 1, 2]
    assert model.history.history == {"accuracy": [0.1, 0.2, 0.3], "loss": [3.0, 2.0, 1.0], "val_loss": [3.0, 2.0, 1.0]}
    assert list(model.history.history) == ["accuracy", "loss", "val_loss"]  # sorted as Keras pythonifies logs


def test_callback_list_adds_defaults_once_and_passes_params():
    history, progbar = ours.History(), ours.ProgbarLogger()
    cbl = ours.CallbackList([history, [progbar]], add_history=True, add_progbar=True, verbose=2, epochs=3, steps=4)
    assert cbl.callbacks == [history, progbar]
    assert history.params == {"verbose": 2, "epochs": 3, "steps": 4} and (progbar.epochs, progbar.target) == (3, 4)
    with pytest.raises(TypeError, match="instances of `convlite.callbacks.Callback`"):
        ours.CallbackList([lambda: None])
    with pytest.raises(ValueError, match="without corresponding"):
        ours.CallbackList([]).on_train_end()


def test_hooks_dispatch_in_order_with_pythonified_logs():
    seen = []

    class Recorder(ours.Callback):
        def __getattribute__(self, name):
            if name.startswith("on_"):
                return lambda *args, **kw: seen.append((name, args, kw))
            return super().__getattribute__(name)

    cbl = ours.CallbackList([Recorder()])
    cbl.on_predict_begin()
    cbl.on_predict_batch_begin(0)
    cbl.on_predict_batch_end(0, {"outputs": np.ones(2)})
    cbl.on_predict_end()
    cbl.on_train_batch_end(1, {"loss": np.float32(0.5), "a": {"nested": np.int64(2)}})
    assert [s[0] for s in seen] == ["on_predict_begin", "on_predict_batch_begin", "on_predict_batch_end",
                                    "on_predict_end", "on_train_batch_end"]
    logs = seen[-1][2]["logs"]
    assert logs == {"nested": 2.0, "loss": 0.5} and type(logs["loss"]) is float


def test_train_batch_hooks_default_to_batch_hooks():
    calls = []

    class Old(ours.Callback):
        def on_batch_end(self, batch, logs=None):
            calls.append(batch)

    ours.CallbackList([Old()]).on_train_batch_end(4)
    assert calls == [4]


def test_early_stopping_patience_and_restore():
    es = ours.EarlyStopping(patience=2, restore_best_weights=True)
    model = fit(ours, [es], losses(5.0, 3.0, 4.0, 4.5, 1.0))
    assert es.stopped_epoch == 3 and es.best == 3.0 and es.best_epoch == 1
    assert len(model.history.epoch) == 4
    np.testing.assert_array_equal(model.weights[0], np.full((2, 3), 1.0))  # weights of epoch 1, the best


def test_early_stopping_min_delta_mode_baseline_and_start_epoch():
    es = ours.EarlyStopping(monitor="val_accuracy", min_delta=0.05, patience=1)
    model = fit(ours, [es], losses(1, 1, 1, 1, val_accuracy=[0.5, 0.53, 0.6, 0.9]))
    assert es.stopped_epoch == 1 and len(model.history.epoch) == 2  # +0.03 is not an improvement; auto -> max
    es = ours.EarlyStopping(baseline=0.5, patience=2)
    fit(ours, [es], losses(1.0, 0.9, 0.95, 0.97))
    assert es.stopped_epoch == 2  # improvements that miss the baseline do not reset the wait
    es = ours.EarlyStopping(start_from_epoch=2, patience=0)
    model = fit(ours, [es], losses(1.0, 2.0, 3.0, 4.0))
    assert es.stopped_epoch == 3


def test_early_stopping_warns_on_missing_metric_and_auto_mode_error():
    with pytest.warns(UserWarning, match="not available. Available metrics are: loss"):
        fit(ours, [ours.EarlyStopping()], [{"loss": 1.0}])
    with pytest.raises(ValueError, match="maximized or minimized"):
        fit(ours, [ours.EarlyStopping(monitor="val_weird")], losses(1.0, val_weird=[1.0]))


def test_early_stopping_reads_direction_from_model_metrics():
    class Metric:
        name, _direction = "weird", "up"

    model = FakeModel()
    model.metrics = [Metric()]
    es = ours.EarlyStopping(monitor="val_weird", patience=0)
    fit(ours, [es], losses(1, 1, 1, val_weird=[0.1, 0.5, 0.4]), model=model)
    assert es.stopped_epoch == 2


def test_model_checkpoint_paths_and_best_only(tmp_path):
    path = str(tmp_path / "m-{epoch:02d}-{val_loss:.2f}.keras")
    model = fit(ours, [ours.ModelCheckpoint(path, save_best_only=True)], losses(2.0, 1.0, 1.5, 0.5))
    assert [p for _, p in model.saved] == [str(tmp_path / n) for n in
                                           ("m-01-2.00.keras", "m-02-1.00.keras", "m-04-0.50.keras")]
    model = fit(ours, [ours.ModelCheckpoint(str(tmp_path / "sub" / "w.weights.h5"), save_weights_only=True)],
                losses(2.0, 1.0))
    assert model.saved == [("save_weights", str(tmp_path / "sub" / "w.weights.h5"))] * 2
    model = fit(ours, [ours.ModelCheckpoint(str(tmp_path / "b{batch}.keras"), save_freq=2)], losses(1, 1), steps=3)
    assert [p for _, p in model.saved] == [str(tmp_path / n) for n in ("b2.keras", "b1.keras", "b3.keras")]


def test_model_checkpoint_argument_errors(tmp_path):
    with pytest.raises(ValueError, match="must end in `.weights.h5`"):
        ours.ModelCheckpoint(str(tmp_path / "x.keras"), save_weights_only=True)
    with pytest.raises(ValueError, match="must end in `.keras`"):
        ours.ModelCheckpoint(str(tmp_path / "x.ckpt"))
    with pytest.raises(ValueError, match="Unrecognized save_freq"):
        ours.ModelCheckpoint(str(tmp_path / "x.keras"), save_freq="batch")
    with pytest.raises(KeyError, match="Failed to format"):
        fit(ours, [ours.ModelCheckpoint(str(tmp_path / "{nope}.keras"))], losses(1.0))


def test_reduce_lr_on_plateau_with_cooldown_and_floor():
    model = FakeModel()
    model.optimizer.learning_rate = 0.1
    cb = ours.ReduceLROnPlateau(factor=0.5, patience=1, cooldown=1, min_lr=0.03)
    model = fit(ours, [cb], losses(1.0, 1.0, 1.0, 1.0, 1.0, 1.0), model=model)
    assert model.optimizer.learning_rate == pytest.approx(0.03)
    assert model.history.history["learning_rate"] == pytest.approx([0.1, 0.1, 0.05, 0.03, 0.03, 0.03])
    with pytest.raises(ValueError, match="factor >= 1.0"):
        ours.ReduceLROnPlateau(factor=1.0)


def test_learning_rate_scheduler():
    model = fit(ours, [ours.LearningRateScheduler(lambda epoch, lr: lr * 0.5)], losses(1, 1, 1))
    assert model.optimizer.learning_rate == pytest.approx(0.00125)
    assert model.history.history["learning_rate"] == pytest.approx([0.005, 0.0025, 0.00125])
    model = fit(ours, [ours.LearningRateScheduler(lambda epoch: 0.1 / (epoch + 1))], losses(1, 1))
    assert model.optimizer.learning_rate == pytest.approx(0.05)
    with pytest.raises(ValueError, match="should be a float"):
        fit(ours, [ours.LearningRateScheduler(lambda epoch: "fast")], losses(1))


def test_terminate_on_nan(capsys):
    model = fit(ours, [ours.TerminateOnNaN()], losses(1, 1, 1), batch_losses=[[1, 1, 1], [1, math.nan, 1], [1, 1, 1]])
    assert len(model.history.epoch) == 2
    assert capsys.readouterr().out == "Batch 1: Invalid loss, terminating training\n"
    with pytest.raises(RuntimeError, match="NaN or Inf loss encountered at batch 0"):
        fit(ours, [ours.TerminateOnNaN(raise_error=True)], losses(1), batch_losses=[[math.inf, 1, 1]])


def test_csv_logger(tmp_path):
    path = tmp_path / "log.csv"
    fit(ours, [ours.CSVLogger(path)], [{"loss": 0.5, "accuracy": 0.25}, {"loss": 0.25, "accuracy": 0.5}])
    assert path.read_bytes().decode() == ("epoch,accuracy,loss,val_accuracy,val_loss\r\n0,0.25,0.5,NA,NA\r\n"
                                "1,0.5,0.25,NA,NA\r\n")
    fit(ours, [ours.CSVLogger(path, separator=";", append=True)], [{"loss": 0.125, "val_loss": 0.75}])
    assert path.read_bytes().decode().endswith("1,0.5,0.25,NA,NA\r\n0;0.125;0.75\r\n")


def test_lambda_callback():
    events = []
    cb = ours.LambdaCallback(on_epoch_end=lambda epoch, logs: events.append(("end", epoch, logs["loss"])),
                             on_train_begin=lambda logs: events.append("begin"),
                             on_test_begin=lambda logs: events.append("test"))
    fit(ours, [cb], losses(2.0, 1.0))
    assert events == ["begin", "test", ("end", 0, 2.0), "test", ("end", 1, 1.0)]


# --- side by side with Keras's callbacks -----------------------------------------------------------------------

@pytest.fixture
def keras_callbacks(monkeypatch):
    tensorflow_or_skip()
    import keras

    return keras.callbacks


class _Sync:
    """A callback that overrides the batch hooks, which turns off Keras's asynchronous batch dispatch."""

    @staticmethod
    def make(module):
        class SyncCallback(module.Callback):
            def on_train_batch_end(self, batch, logs=None):
                pass

            def on_test_batch_end(self, batch, logs=None):
                pass

        return SyncCallback()


def _scenario(module, tmp_path, tag):
    return [
        _Sync.make(module),
        module.LearningRateScheduler(lambda epoch, lr: lr * 0.9, verbose=1),
        module.ReduceLROnPlateau(monitor="loss", factor=0.5, patience=1, verbose=1),
        module.ModelCheckpoint(str(tmp_path / (tag + "-{epoch}.keras")), monitor="val_accuracy",
                               save_best_only=True, verbose=1, mode="max"),
        module.CSVLogger(str(tmp_path / f"{tag}.csv")),
        module.EarlyStopping(monitor="val_loss", patience=2, verbose=1, restore_best_weights=True),
        module.TerminateOnNaN(),
    ]


EPOCHS = [
    {"accuracy": 0.5, "loss": 1.0, "val_accuracy": 0.4, "val_loss": 1.2},
    {"accuracy": 0.6, "loss": 0.8, "val_accuracy": 0.5, "val_loss": 1.1},
    {"accuracy": 0.7, "loss": 0.8, "val_accuracy": 0.45, "val_loss": 1.15},
    {"accuracy": 0.7, "loss": 0.85, "val_accuracy": 0.55, "val_loss": 1.3},
    {"accuracy": 0.8, "loss": 0.5, "val_accuracy": 0.6, "val_loss": 0.9},
]


@pytest.mark.tensorflow
@pytest.mark.parametrize("verbose", [0, 1, 2])
def test_same_run_as_keras(keras_callbacks, tmp_path, capsys, monkeypatch, verbose):
    results = {}
    for tag, module in (("RUN_K", keras_callbacks), ("RUN_C", ours)):
        counter = itertools.count()
        monkeypatch.setattr(time, "time", lambda: 500.0 + 0.013 * next(counter))
        model = fit(module, _scenario(module, tmp_path, tag), EPOCHS, steps=4, verbose=verbose)
        results[tag] = dict(
            out=capsys.readouterr().out.replace(tag, "TAG"),
            history=model.history.history, epochs=model.history.epoch, lr=model.optimizer.learning_rate,
            weights=[w.tolist() for w in model.weights], saved=[p.replace(tag, "TAG") for _, p in model.saved],
            csv=(tmp_path / f"{tag}.csv").read_text(),
        )
    assert results["RUN_C"] == results["RUN_K"]
    assert "early stopping" in results["RUN_C"]["out"]
    assert ("Epoch 1/5" in results["RUN_C"]["out"]) == (verbose != 0)


@pytest.mark.tensorflow
@pytest.mark.parametrize("verbose", [1, 2])
def test_standalone_evaluate_and_predict_bars_match_keras(keras_callbacks, capsys, monkeypatch, verbose):
    outputs = {}
    for tag, module in (("keras", keras_callbacks), ("ours", ours)):
        counter = itertools.count()
        monkeypatch.setattr(time, "time", lambda: 10.0 + 0.4 * next(counter))
        cbl = module.CallbackList([_Sync.make(module)], add_progbar=True, model=FakeModel(), verbose=verbose,
                                  epochs=1, steps=3)
        cbl.on_test_begin()
        for step in range(3):
            cbl.on_test_batch_begin(step)
            cbl.on_test_batch_end(step, {"loss": 1.0 / (step + 1), "accuracy": 0.25 * step})
        cbl.on_test_end({"loss": 0.6, "accuracy": 0.25})
        cbl.on_predict_begin()
        for step in range(3):
            cbl.on_predict_batch_begin(step)
            cbl.on_predict_batch_end(step, {"outputs": np.zeros(2)})
        cbl.on_predict_end()
        outputs[tag] = capsys.readouterr().out
    assert outputs["ours"] == outputs["keras"]

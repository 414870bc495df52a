"""The benchmark's models and their fit/predict timings, written once against the Keras API.

`K` is a namespace with `Sequential`, `Input` and `layers`: `keras` itself or `convlite` (changing only the import
line is the promise convlite makes). The same function therefore times Keras and convlite.
"""
from __future__ import annotations

import time

from . import data, rows
from .timing import EpochClock, Settings, epochs_per_sample, fold_epochs, summarize, time_calls


def ecg_model(K):
    """The seed ECG model."""
    return K.Sequential([
        K.Input((100, 1)),
        K.layers.Conv1D(16, 3, activation="relu"),
        K.layers.Conv1D(8, 3, activation="relu"),
        K.layers.Flatten(),
        K.layers.Dense(1, activation="sigmoid"),
    ])


def mnist_convnet(K):
    """Keras's "Simple MNIST convnet" example."""
    return K.Sequential([
        K.Input((28, 28, 1)),
        K.layers.Conv2D(32, kernel_size=(3, 3), activation="relu"),
        K.layers.MaxPooling2D(pool_size=(2, 2)),
        K.layers.Conv2D(64, kernel_size=(3, 3), activation="relu"),
        K.layers.MaxPooling2D(pool_size=(2, 2)),
        K.layers.Flatten(),
        K.layers.Dropout(0.5),
        K.layers.Dense(10, activation="softmax"),
    ])


def lenet5(K):
    """LeNet-5 as usually written in Keras: tanh, average pooling, 'same' first convolution on 28x28."""
    return K.Sequential([
        K.Input((28, 28, 1)),
        K.layers.Conv2D(6, 5, padding="same", activation="tanh"),
        K.layers.AveragePooling2D(2),
        K.layers.Conv2D(16, 5, activation="tanh"),
        K.layers.AveragePooling2D(2),
        K.layers.Flatten(),
        K.layers.Dense(120, activation="tanh"),
        K.layers.Dense(84, activation="tanh"),
        K.layers.Dense(10, activation="softmax"),
    ])


MODELS = {"ecg": ecg_model, "mnist_convnet": mnist_convnet, "lenet5": lenet5}
COMPILE = {
    "ecg": dict(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"]),
    "mnist_convnet": dict(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"]),
    "lenet5": dict(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"]),
}


def training_data(name: str, quick: bool):
    n = (rows.TRAIN_SAMPLES_QUICK if quick else rows.TRAIN_SAMPLES)[name]
    return data.ecg_data(n) if name == "ecg" else data.image_data(n)


def _clock_callback(callback_base, clock: EpochClock):
    methods = {
        "on_epoch_begin": lambda self, epoch, logs=None: clock.begin(),
        "on_epoch_end": lambda self, epoch, logs=None: clock.end(),
    }
    return type("BenchEpochClock", (callback_base,), methods)()


def time_fit_epochs(K, callback_base, name: str, settings: Settings) -> dict:
    """Per-epoch time of `fit` (verbose=0): two warm-up epochs, then `repeats` samples of k epochs each.

    Epochs are timed by a callback (on_epoch_begin -> on_epoch_end, as Keras's own per-epoch time). Without a
    callback class, each sample is one `fit(epochs=k)` call divided by k (then the per-call setup is included).
    """
    x, y = training_data(name, settings.quick)
    batch = rows.TRAIN_BATCH[name]
    model = MODELS[name](K)
    model.compile(**COMPILE[name])
    fit = dict(batch_size=batch, verbose=0)
    if callback_base is None:
        t0 = time.perf_counter()
        model.fit(x, y, epochs=2, **fit)
        k = epochs_per_sample((time.perf_counter() - t0) / 2, settings)
        samples = []
        for _ in range(settings.repeats):
            t0 = time.perf_counter()
            model.fit(x, y, epochs=k, **fit)
            samples.append((time.perf_counter() - t0) / k)
        return summarize(samples, k, samples_per_epoch=len(x), method="fit(epochs=k) wall time / k")
    clock = EpochClock()
    callback = _clock_callback(callback_base, clock)
    model.fit(x, y, epochs=2, callbacks=[callback], **fit)
    k = epochs_per_sample(clock.durations[-1], settings)
    clock.durations.clear()
    model.fit(x, y, epochs=settings.repeats * k, callbacks=[callback], **fit)
    samples = fold_epochs(clock.durations, k)
    return summarize(samples, k, samples_per_epoch=len(x), method="epoch callback")


def inference_cells(K, settings: Settings, wanted: set) -> dict:
    """Single-sample latency of the ECG model by model(x), predict_on_batch and predict; batch predict throughput."""
    cells = {}
    ecg = ecg_model(K)
    x_ecg, _ = data.ecg_data(100)
    one = x_ecg[:1]
    calls = {
        "infer/ecg_1_call": lambda: ecg(one),
        "infer/ecg_1_predict_on_batch": lambda: ecg.predict_on_batch(one),
        "infer/ecg_1_predict": lambda: ecg.predict(one, verbose=0),
    }
    for row_id, fn in calls.items():
        if row_id in wanted:
            cells[row_id] = time_calls(fn, settings)
    n = rows.BATCH_PREDICT_SAMPLES_QUICK if settings.quick else rows.BATCH_PREDICT_SAMPLES
    if "infer/ecg_batch" in wanted:
        x = data.ecg_data(n)[0]
        cells["infer/ecg_batch"] = per_sample(time_calls(lambda: ecg.predict(x, batch_size=256, verbose=0),
                                                         settings), n)
    if "infer/mnist_batch" in wanted:
        model = mnist_convnet(K)
        x = data.image_data(n)[0]
        cells["infer/mnist_batch"] = per_sample(time_calls(lambda: model.predict(x, batch_size=256, verbose=0),
                                                           settings), n)
    return cells


def per_sample(cell: dict, n: int) -> dict:
    """Turn a per-call cell into a per-sample one (and record the throughput)."""
    for key in ("median", "q1", "q3", "min", "max"):
        cell[key] /= n
    cell["samples"] = [s / n for s in cell["samples"]]
    cell["batch_samples"] = n
    cell["samples_per_second"] = 1.0 / cell["median"]
    return cell


def peak_rss_fit(K, callback_base) -> dict:
    """Build and fit the ECG model for 5 epochs (the caller reads the process's peak RSS afterwards)."""
    x, y = data.ecg_data(100)
    model = ecg_model(K)
    model.compile(**COMPILE["ecg"])
    t0 = time.perf_counter()
    model.fit(x, y, batch_size=32, epochs=5, verbose=0)
    return {"fit_seconds": time.perf_counter() - t0}

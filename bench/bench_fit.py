"""Seconds per epoch of the seed ECG model, convlite vs Keras fit, plus one-sample predict latency.

    PYTHONPATH=python python bench/bench_fit.py [--samples 2048] [--epochs 5] [--threads N]

The ECG model: Input((100, 1)), Conv1D(16, 3, relu), Conv1D(8, 3, relu), Flatten, Dense(1, sigmoid); Adam;
binary cross-entropy; batch 32. Both frameworks get the same data (written once to a temporary .npz) and run in
their own subprocess, so TensorFlow's thread pools never share a process with convlite's. Each times every epoch
(from on_epoch_begin to on_epoch_end, verbose=0) after one warm-up epoch and reports the median. Latency: median of
many single-sample calls, convlite ``model(x)`` / ``model.predict(x)`` vs TensorFlow's ``model(x)``.
The machine is shared and noisy: read the ratios, not the absolute numbers, and re-run before quoting.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile

import numpy as np

CHILD = r"""
import json, os, sys, time
import numpy as np
lib_name, data_path, epochs = sys.argv[1], sys.argv[2], int(sys.argv[3])
if lib_name == "keras":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import keras as lib
    Callback = lib.callbacks.Callback
else:
    import convlite as lib
    from convlite.callbacks import Callback
d = np.load(data_path)
x, y = d["x"], d["y"]
L = lib.layers
model = lib.Sequential([lib.Input((100, 1)), L.Conv1D(16, 3, activation="relu"), L.Conv1D(8, 3, activation="relu"),
                        L.Flatten(), L.Dense(1, activation="sigmoid")])
model.compile(lib.optimizers.Adam(), "binary_crossentropy", metrics=["accuracy"])

class Timer(Callback):
    def __init__(self):
        super().__init__()
        self.times = []
    def on_epoch_begin(self, epoch, logs=None):
        self.t0 = time.perf_counter()
    def on_epoch_end(self, epoch, logs=None):
        self.times.append(time.perf_counter() - self.t0)

timer = Timer()
model.fit(x, y, batch_size=32, epochs=epochs + 1, verbose=0, shuffle=True, callbacks=[timer])
epoch_s = float(np.median(timer.times[1:]))
one = x[:1]
call = (lambda: model(one)) if lib_name == "keras" else (lambda: model(one))
for _ in range(20):
    call()
lat = []
for _ in range(300):
    t0 = time.perf_counter(); call(); lat.append(time.perf_counter() - t0)
predict_lat = []
if lib_name == "convlite":
    for _ in range(300):
        t0 = time.perf_counter(); model.predict(one, verbose=0); predict_lat.append(time.perf_counter() - t0)
print(json.dumps({"epoch_s": epoch_s, "epochs": timer.times, "call_s": float(np.median(lat)),
                  "predict_s": float(np.median(predict_lat)) if predict_lat else None}))
"""


def run_child(lib, data_path, epochs, threads):
    env = dict(os.environ)
    if threads:
        env["OMP_NUM_THREADS"] = str(threads)
    out = subprocess.run([sys.executable, "-c", CHILD, lib, data_path, str(epochs)], env=env, check=True,
                         capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=2048)
    parser.add_argument("--epochs", type=int, default=5, help="timed epochs (after one warm-up)")
    parser.add_argument("--threads", type=int, default=0, help="OMP_NUM_THREADS for the convlite run")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    t = np.linspace(0, 4 * np.pi, 100, dtype=np.float32)
    freq = rng.uniform(0.5, 2.0, size=(args.samples, 1)).astype(np.float32)
    x = (np.sin(freq * t) + 0.3 * rng.normal(size=(args.samples, 100))).astype(np.float32)[..., None]
    y = (freq[:, 0] > 1.25).astype(np.float32)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "ecg.npz")
        np.savez(path, x=x, y=y)
        ours = run_child("convlite", path, args.epochs, args.threads)
        theirs = run_child("keras", path, args.epochs, 0)
    steps = -(-args.samples // 32)
    print(f"ECG model, {args.samples} samples, batch 32 ({steps} steps/epoch), median of {args.epochs} epochs")
    print(f"  convlite fit: {ours['epoch_s'] * 1e3:8.2f} ms/epoch  ({ours['epoch_s'] / steps * 1e6:7.1f} us/step)")
    print(f"  keras fit   : {theirs['epoch_s'] * 1e3:8.2f} ms/epoch  ({theirs['epoch_s'] / steps * 1e6:7.1f} us/step)")
    print(f"  fit speed-up: {theirs['epoch_s'] / ours['epoch_s']:.1f}x   (bar: >= 25x)")
    print(f"  one-sample latency: convlite model(x) {ours['call_s'] * 1e6:.1f} us, "
          f"predict(x) {ours['predict_s'] * 1e6:.1f} us; TF model(x) {theirs['call_s'] * 1e6:.1f} us")
    print(f"  latency speed-up (TF model(x) / convlite model(x)): {theirs['call_s'] / ours['call_s']:.0f}x "
          f"(bar: >= 100x); vs convlite predict: {theirs['call_s'] / ours['predict_s']:.0f}x")


if __name__ == "__main__":
    main()

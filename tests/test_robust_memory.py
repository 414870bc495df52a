"""Resident memory stays flat over 10,000 training steps and 100,000 predict calls (small model, RSS read from
/proc/self/statm after a warm-up): a leak of even a few hundred bytes per call would show up as megabytes."""
from __future__ import annotations

import gc
import os

import numpy as np
import pytest

import convlite
from convlite import layers

pytestmark = [
    pytest.mark.skipif(not os.path.exists("/proc/self/statm"), reason="needs Linux's /proc"),
    # AddressSanitizer's quarantine holds freed memory on purpose: RSS grows by design in the sanitizer job.
    pytest.mark.skipif("libasan" in os.environ.get("LD_PRELOAD", ""), reason="RSS is not meaningful under ASan"),
]


def _rss_bytes() -> int:
    gc.collect()
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _model():
    convlite.utils.set_random_seed(11)
    model = convlite.Sequential([layers.Input((8, 8, 1)), layers.Conv2D(4, 3, activation="relu"),
                                 layers.MaxPooling2D(), layers.Flatten(), layers.Dropout(0.1),
                                 layers.Dense(3, activation="softmax")])
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def _assert_flat(before, after, what):
    growth = (after - before) / before
    print(f"RSS over {what}: {before / 2**20:.1f} -> {after / 2**20:.1f} MiB")
    assert growth <= 0.05, f"RSS grew {100 * growth:.1f}% ({(after - before) / 2**20:.1f} MiB) over {what}"
    # Independent of how large the process already is (TensorFlow may be loaded by other tests): a leak of 1 KB
    # per call would add 10-100 MB here.
    assert after - before <= 8 * 2**20, f"RSS grew {(after - before) / 2**20:.1f} MiB over {what}"


def test_rss_flat_over_10000_training_steps():
    model = _model()
    rng = np.random.default_rng(0)
    x = rng.standard_normal((8, 8, 8, 1)).astype(np.float32)
    y = rng.integers(0, 3, 8)
    for _ in range(300):  # warm-up: buffers, optimizer slots, allocator pools
        model.train_on_batch(x, y)
    model.fit(np.repeat(x, 4, axis=0), np.repeat(y, 4), batch_size=8, epochs=2, verbose=0)
    before = _rss_bytes()
    for _ in range(5000):
        model.train_on_batch(x, y)
    model.fit(np.repeat(x, 125, axis=0), np.repeat(y, 125), batch_size=8, epochs=40, verbose=0)  # 5000 steps
    _assert_flat(before, _rss_bytes(), "10,000 training steps")


def test_rss_flat_over_100000_predict_calls():
    model = _model()
    x = np.random.default_rng(1).standard_normal((2, 8, 8, 1)).astype(np.float32)
    for _ in range(1000):
        model.predict_on_batch(x)
        model(x)
    model.predict(x, verbose=0)
    before = _rss_bytes()
    for _ in range(90_000):
        model.predict_on_batch(x)
    for _ in range(10_000):
        model.predict(x, verbose=0)
    _assert_flat(before, _rss_bytes(), "100,000 predict calls")


def test_predict_with_a_huge_batch_size_keeps_bounded_buffers():
    # The model's buffers are sized for the batch they run and stay allocated: a 28x28 convnet predicted with
    # batch_size=12000 at once would keep ~1.8 GB; predict cuts such a batch into pieces whose inference buffers
    # stay under 8 MB (Model::predict_chunk), with the same predictions as small batches.
    model = convlite.Sequential([layers.Input((28, 28, 1)), layers.Conv2D(32, 3, activation="relu"),
                                 layers.MaxPooling2D(), layers.Conv2D(64, 3, activation="relu"), layers.Flatten(),
                                 layers.Dense(10, activation="softmax")])
    x = np.random.default_rng(0).random((12000, 28, 28, 1), dtype=np.float32)
    small = model.predict(x[:64], batch_size=32, verbose=0)
    before = _rss_bytes()
    whole = model.predict(x, batch_size=12000, verbose=0)
    grown = _rss_bytes() - before
    np.testing.assert_array_equal(whole[:64], small)
    assert grown <= 400 * 2**20, f"predict(batch_size=12000) kept {grown / 2**20:.0f} MiB"

"""The same inputs for every framework: numpy arrays from fixed seeds (each framework's process rebuilds them)."""
from __future__ import annotations

import numpy as np

from . import rows

SEED = 20261123


def rng(offset: int = 0) -> np.random.Generator:
    return np.random.default_rng(SEED + offset)


def ecg_data(n: int = 100) -> tuple[np.ndarray, np.ndarray]:
    """ECG200-sized data for the seed model's Input((100, 1)): n series of length 100, one channel, binary labels.

    Synthetic (two classes of noisy sines): the real ECG200 series are 96 samples long, not the seed model's 100,
    and timings do not depend on the values.
    """
    g = rng(1)
    t = np.linspace(0, 4 * np.pi, 100, dtype=np.float32)
    y = (g.random(n) > 0.5).astype(np.float32)
    phase = g.random((n, 1)).astype(np.float32) * 2 * np.pi
    x = np.sin(t[None, :] * (1 + 0.5 * y[:, None]) + phase) + 0.3 * g.standard_normal((n, 100)).astype(np.float32)
    return x.astype(np.float32).reshape(n, 100, 1), y


def image_data(n: int) -> tuple[np.ndarray, np.ndarray]:
    """MNIST-shaped data: n images 28x28x1 in [0, 1], integer labels 0..9 (sparse)."""
    g = rng(2)
    x = g.random((n, 28, 28, 1), dtype=np.float32)
    y = g.integers(0, 10, size=n).astype(np.int64)
    return x, y


def normal(shape, offset: int, scale: float = 1.0) -> np.ndarray:
    return (rng(offset).standard_normal(shape) * scale).astype(np.float32)


def conv_tensors() -> dict:
    c = rows.CONV
    b, s, ci, f, k = c["batch"], c["size"], c["channels"], c["filters"], c["kernel"]
    return {
        "x": normal((b, s, s, ci), 10),
        "w": normal((k, k, ci, f), 11, scale=(2.0 / (k * k * ci)) ** 0.5),
        "b": normal((f,), 12, scale=0.1),
        "dy": normal((b, s, s, f), 13),
    }


def depthwise_tensors() -> dict:
    c = rows.DEPTHWISE
    b, s, ch, k = c["batch"], c["size"], c["channels"], c["kernel"]
    return {
        "x": normal((b, s, s, ch), 20),
        "w": normal((k, k, ch, 1), 21, scale=1 / 3),
        "dy": normal((b, s, s, ch), 22),
    }


def conv1d_tensors(spec: dict, offset: int) -> dict:
    b, n, ci, f, k = spec["batch"], spec["length"], spec["channels"], spec["filters"], spec["kernel"]
    return {
        "x": normal((b, n, ci), offset),
        "w": normal((k, ci, f), offset + 1, scale=(2.0 / (k * ci)) ** 0.5),
        "b": normal((f,), offset + 2, scale=0.1),
        "dy": normal((b, n - k + 1, f), offset + 3),
    }


def pool_tensors() -> dict:
    p = rows.POOL
    b, s, ch, q = p["batch"], p["size"], p["channels"], p["pool"]
    return {"x": normal((b, s, s, ch), 30), "dy": normal((b, s // q, s // q, ch), 31)}


def dense_tensors() -> dict:
    d = rows.DENSE
    return {
        "x": normal((d["batch"], d["inputs"]), 40),
        "w": normal((d["inputs"], d["units"]), 41, scale=d["inputs"] ** -0.5),
        "b": normal((d["units"],), 42, scale=0.1),
        "dy": normal((d["batch"], d["units"]), 43),
    }


def sgemm_tensors() -> dict:
    n = rows.SGEMM_N
    return {"a": normal((n, n), 50), "b": normal((n, n), 51)}


def elementwise_tensors() -> dict:
    return {"x": normal((rows.ELEMENTWISE_N,), 60), "dy": normal((rows.ELEMENTWISE_N,), 61),
            "logits": normal(rows.SOFTMAX_SHAPE, 62)}


def adam_tensors() -> dict:
    n = rows.ADAM_N
    return {"param": normal((n,), 70), "grad": normal((n,), 71, scale=1e-2),
            "m": np.zeros(n, np.float32), "v": np.zeros(n, np.float32)}

"""numpy as a reference column (its own process): OpenBLAS sgemm, a vectorised Adam step, relu and softmax.

Issue 3 compares the packed SGEMM with numpy's sgemm; issue 4 compares the Adam step with a vectorised numpy Adam.
The numpy code is written as a careful user would: in place, preallocated temporaries, Keras 3's formulas.
"""
from __future__ import annotations

import numpy as np

from . import data
from .timing import Settings, time_calls


def framework_info(import_log: str) -> dict:
    info = {"name": "numpy", "version": np.__version__}
    try:
        from threadpoolctl import threadpool_info

        blas = [p for p in threadpool_info() if p.get("user_api") == "blas"]
        if blas:
            info["blas"] = f"{blas[0].get('internal_api')} {blas[0].get('version')} ({blas[0].get('architecture')})"
            info["threads"] = {"blas": blas[0].get("num_threads")}
    except ImportError:
        pass
    return info


def setup(threads: int) -> None:
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(threads)
    except ImportError:  # OPENBLAS_NUM_THREADS from the runner still applies
        pass


def numpy_adam(param, grad, m, v, tmp, step, lr=1e-3, beta_1=0.9, beta_2=0.999, epsilon=1e-7):
    """Keras 3's Adam update, vectorised and in place."""
    lr_t = lr * np.sqrt(1 - beta_2 ** step) / (1 - beta_1 ** step)
    np.subtract(grad, m, out=tmp)
    tmp *= 1 - beta_1
    m += tmp
    np.multiply(grad, grad, out=tmp)
    tmp -= v
    tmp *= 1 - beta_2
    v += tmp
    np.sqrt(v, out=tmp)
    tmp += epsilon
    np.divide(m, tmp, out=tmp)
    tmp *= lr_t
    param -= tmp


def numpy_softmax(logits, out):
    np.subtract(logits, logits.max(axis=-1, keepdims=True), out=out)
    np.exp(out, out=out)
    out /= out.sum(axis=-1, keepdims=True)
    return out


def run(wanted: set, settings: Settings) -> dict:
    cells = {}
    if "kernel/sgemm1024" in wanted:
        t = data.sgemm_tensors()
        c = np.empty_like(t["a"])
        cells["kernel/sgemm1024"] = time_calls(lambda: np.matmul(t["a"], t["b"], out=c), settings)
    if "kernel/dense_fwd" in wanted:
        t = data.dense_tensors()
        y = np.empty((t["x"].shape[0], t["w"].shape[1]), np.float32)  # reused output

        def dense():
            np.matmul(t["x"], t["w"], out=y)
            np.add(y, t["b"], out=y)
            np.maximum(y, 0, out=y)

        cells["kernel/dense_fwd"] = time_calls(dense, settings)
    if wanted & {"kernel/relu_fwd", "kernel/relu_bwd", "kernel/softmax"}:
        t = data.elementwise_tensors()
        out = np.empty_like(t["x"])
        soft = np.empty_like(t["logits"])
        if "kernel/relu_fwd" in wanted:
            cells["kernel/relu_fwd"] = time_calls(lambda: np.maximum(t["x"], 0, out=out), settings)
        if "kernel/relu_bwd" in wanted:
            zero = np.zeros((), np.float32)
            cells["kernel/relu_bwd"] = time_calls(lambda: np.where(t["x"] > 0, t["dy"], zero), settings)
        if "kernel/softmax" in wanted:
            cells["kernel/softmax"] = time_calls(lambda: numpy_softmax(t["logits"], soft), settings)
    if "kernel/adam_1m" in wanted:
        t = data.adam_tensors()
        tmp = np.empty_like(t["param"])
        step = [0]

        def adam():
            step[0] += 1
            numpy_adam(t["param"], t["grad"], t["m"], t["v"], tmp, step[0])

        cells["kernel/adam_1m"] = time_calls(adam, settings)
    return cells


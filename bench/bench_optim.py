"""Optimizer-step benchmark: convlite's fused Adam/SGD/RMSprop kernels against a vectorised numpy Adam and a plain
memory copy of the same tensor, in one run.

    PYTHONPATH=python python bench/bench_optim.py [--n 1048576] [--repeats 7] [--steps 20] [--tensorflow]

Prints the median time per step (of --repeats runs of --steps steps), the bytes each step moves (Adam reads
param, grad, m, v and writes param, m, v: 28 bytes per parameter), the effective bandwidth, and ratios:
convlite vs numpy (issue 4 asks >= 3x) and convlite's bandwidth vs np.copyto's (issue 4 asks >= 70%).
With --tensorflow it also times tf.raw_ops.ResourceApplyAdam (in a child process: one OpenMP runtime each).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

import numpy as np


def median_step_seconds(step, steps, repeats):
    step()  # warm up (page faults, thread team)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(steps):
            step()
        times.append((time.perf_counter() - t0) / steps)
    return statistics.median(times)


def numpy_adam(p, g, m, v, tmp, tmp2, lr=1e-3, b1=0.9, b2=0.999, eps=1e-7, step=1):
    """Vectorised numpy Adam with Keras's formula, in place, no allocation per step."""
    alpha = np.float32(lr * np.sqrt(1 - b2 ** step) / (1 - b1 ** step))
    np.subtract(g, m, out=tmp)
    tmp *= np.float32(1 - b1)
    m += tmp
    np.multiply(g, g, out=tmp)
    tmp -= v
    tmp *= np.float32(1 - b2)
    v += tmp
    np.sqrt(v, out=tmp)
    tmp += np.float32(eps)
    np.multiply(m, alpha, out=tmp2)
    tmp2 /= tmp
    p -= tmp2


def tensorflow_adam_seconds(n, steps, repeats):
    """Time tf.raw_ops.ResourceApplyAdam in a child process (TF's own OpenMP/Eigen pool stays out of ours)."""
    code = f"""
import os, json, statistics, time
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import numpy as np, tensorflow as tf
n, steps, repeats = {n}, {steps}, {repeats}
rng = np.random.default_rng(0)
p = tf.Variable(rng.standard_normal(n).astype(np.float32)); m = tf.Variable(tf.zeros(n)); v = tf.Variable(tf.zeros(n))
g = tf.constant(rng.standard_normal(n).astype(np.float32))
@tf.function
def step():
    tf.raw_ops.ResourceApplyAdam(var=p.handle, m=m.handle, v=v.handle, beta1_power=0.9, beta2_power=0.999, lr=1e-3,
                                 beta1=0.9, beta2=0.999, epsilon=1e-7, grad=g)
step()
times = []
for _ in range(repeats):
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    _ = p.numpy()[0]
    times.append((time.perf_counter() - t0) / steps)
print(json.dumps(statistics.median(times)))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1 << 20, help="parameters (default 1M)")
    parser.add_argument("--repeats", type=int, default=7, help="timed runs; the median is reported (>= 5)")
    parser.add_argument("--steps", type=int, default=20, help="steps per timed run")
    parser.add_argument("--tensorflow", action="store_true", help="also time TensorFlow's ResourceApplyAdam")
    args = parser.parse_args()

    import convlite
    from convlite import _core

    n = args.n
    rng = np.random.default_rng(0)
    p = rng.standard_normal(n).astype(np.float32)
    g = rng.standard_normal(n).astype(np.float32)
    m, v, vh, tmp, tmp2 = (np.zeros(n, np.float32) for _ in range(5))
    src, dst = np.ones(n, np.float32), np.zeros(n, np.float32)
    mb = n * 4 / 2 ** 20
    print(f"convlite {convlite.__version__}, ISA {convlite.get_isa()}, {n:,} parameters ({mb:.1f} MB per tensor), "
          f"median of {args.repeats} x {args.steps} steps, load average {os.getloadavg()[0]:.1f}")

    copy_s = median_step_seconds(lambda: np.copyto(dst, src), args.steps, args.repeats)
    copy_bw = 8 * n / copy_s
    rows = [("np.copyto (reference bandwidth)", copy_s, 8)]
    np_s = median_step_seconds(lambda: numpy_adam(p, g, m, v, tmp, tmp2), args.steps, args.repeats)
    rows.append(("numpy Adam (vectorised, in place)", np_s, 28))
    results = {}
    for threads in sorted({1, convlite.get_num_threads()}):
        convlite.set_num_threads(threads)
        cases = [
            ("adam", lambda: _core.adam_update(p, g, m, v, None, 1e-3, 0.9, 0.999, 1e-7, 1), 28),
            ("adam amsgrad", lambda: _core.adam_update(p, g, m, v, vh, 1e-3, 0.9, 0.999, 1e-7, 1), 36),
            ("sgd momentum", lambda: _core.sgd_update(p, g, m, 1e-3, 0.9, False), 20),
            ("rmsprop", lambda: _core.rmsprop_update(p, g, v, None, None, 1e-3, 0.9, 0.0, 1e-7), 20),
        ]
        for name, fn, bytes_per in cases:
            s = median_step_seconds(fn, args.steps, args.repeats)
            results[(name, threads)] = s
            rows.append((f"convlite {name} ({threads} thread{'s' if threads > 1 else ''})", s, bytes_per))
    if args.tensorflow:
        rows.append(("TensorFlow ResourceApplyAdam", tensorflow_adam_seconds(n, args.steps, args.repeats), 28))

    print(f"{'kernel':45s} {'ms/step':>9s} {'GB/s':>7s} {'of copy':>8s}")
    for name, s, bytes_per in rows:
        bw = bytes_per * n / s
        print(f"{name:45s} {s * 1e3:9.3f} {bw / 1e9:7.1f} {bw / copy_bw:8.0%}")
    best_adam = min(s for (name, _), s in results.items() if name == "adam")
    print(f"\nAdam speed-up over numpy: {np_s / best_adam:.1f}x (1 thread: {np_s / results[('adam', 1)]:.1f}x); "
          f"issue 4 asks >= 3x")
    if args.tensorflow:
        tf_s = rows[-1][1]
        print(f"Adam speed-up over TensorFlow ResourceApplyAdam: {tf_s / best_adam:.1f}x")


if __name__ == "__main__":
    main()

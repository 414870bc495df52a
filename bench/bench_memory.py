"""Memory-bound kernels (relu, pooling forward/backward, softmax) on 4-16 MB tensors: convlite against the copy
bandwidth measured on the same sizes and against the TensorFlow op, which runs in its own process (two OpenMP
runtimes in one process can clash).

    PYTHONPATH=python python bench/bench_memory.py [--sizes-mb 4 16] [--repeats 7] [--threads N] [--no-tf]

Each figure is the median of --repeats timed calls after one warm-up call. Bytes count what the op must read plus
what it must write (e.g. relu: 4N + 4N; max pool 2x2/2 forward with argmax: 4N + N + N), and the copy bandwidth
counts nbytes read + nbytes written per memcpy, so "% copy" compares like with like. convlite's calls go through
_core and include allocating the output, as a user's call does. Timings on a shared machine are noisy: compare
ratios from the same run. --threads sets both convlite's and TensorFlow's intra-op thread count (default: convlite's);
on a machine busier than its core count, one descheduled OpenMP thread stalls the whole team (PERF_NOTES.md), so
--threads 1 gives the steadier figures there.
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


def median_seconds(fn, repeats):
    fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def cases(mb):
    """(name, input shape, bytes moved) for a tensor of `mb` MB; NHWC pools 2x2 stride 2, softmax rows of 1000."""
    n = mb * (1 << 20) // 4
    c = 32
    side = int(round((n // (8 * c)) ** 0.5))
    pool_shape = (8, side, side, c)
    p = int(np.prod(pool_shape))
    rows = n // 1000
    return [
        ("relu forward", (n,), 8 * n),
        ("relu backward", (n,), 12 * n),
        ("max_pool2d forward (+argmax)", pool_shape, 4 * p + 2 * p),
        ("max_pool2d backward", pool_shape, 2 * p + 4 * p),
        ("avg_pool2d forward", pool_shape, 4 * p + p),
        ("avg_pool2d backward", pool_shape, p + 4 * p),
        ("softmax forward", (rows, 1000), 8 * rows * 1000),
    ]


def convlite_ops(name, shape, rng):
    from convlite import _core

    x = rng.standard_normal(shape).astype(np.float32)
    if name.startswith("relu"):
        dy = rng.standard_normal(shape).astype(np.float32)
        return (lambda: _core.relu(x)) if "forward" in name else (lambda: _core.relu_backward(x, dy))
    if name.startswith("softmax"):
        return lambda: _core.activation(x, "softmax")
    geo = dict(pool=(2, 2), strides=(2, 2), padding=(0, 0, 0, 0))
    if name.startswith("max_pool2d"):
        y, argmax = _core.max_pool2d(x, return_argmax=True, **geo)
        if "forward" in name:
            return lambda: _core.max_pool2d(x, return_argmax=True, **geo)
        return lambda: _core.max_pool2d_backward(argmax, y, shape, **geo)
    y = _core.avg_pool2d(x, **geo)
    if "forward" in name:
        return lambda: _core.avg_pool2d(x, **geo)
    return lambda: _core.avg_pool2d_backward(y, shape, **geo)


def tf_ops(tf, name, shape, rng):
    x = tf.constant(rng.standard_normal(shape).astype(np.float32))
    if name.startswith("relu"):
        dy = tf.constant(rng.standard_normal(shape).astype(np.float32))
        return (lambda: tf.nn.relu(x)) if "forward" in name else (lambda: tf.raw_ops.ReluGrad(gradients=dy, features=x))
    if name.startswith("softmax"):
        return lambda: tf.nn.softmax(x)
    k, s = [1, 2, 2, 1], [1, 2, 2, 1]
    if name.startswith("max_pool2d"):
        if "forward" in name:  # TF's training path keeps no argmax on CPU: plain max pool
            return lambda: tf.nn.max_pool2d(x, 2, 2, "VALID")
        y = tf.nn.max_pool2d(x, 2, 2, "VALID")
        return lambda: tf.raw_ops.MaxPoolGrad(orig_input=x, orig_output=y, grad=y, ksize=k, strides=s,
                                              padding="VALID")
    if "forward" in name:
        return lambda: tf.nn.avg_pool2d(x, 2, 2, "VALID")
    y = tf.nn.avg_pool2d(x, 2, 2, "VALID")
    return lambda: tf.raw_ops.AvgPoolGrad(orig_input_shape=list(shape), grad=y, ksize=k, strides=s, padding="VALID")


def tf_worker(sizes, repeats, threads):
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import tensorflow as tf

    if threads:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(1)

    rng = np.random.default_rng(0)
    out = {"threads": tf.config.threading.get_intra_op_parallelism_threads(), "version": tf.__version__}
    for mb in sizes:
        for name, shape, _ in cases(mb):
            out[f"{mb}:{name}"] = median_seconds(tf_ops(tf, name, shape, rng), repeats)
    print(json.dumps(out))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes-mb", type=int, nargs="+", default=[4, 16])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--threads", type=int, default=0, help="0: convlite's current thread count")
    parser.add_argument("--no-tf", action="store_true")
    parser.add_argument("--tf-worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.repeats < 5:
        parser.error(f"--repeats must be at least 5 (medians of >= 5). Received: --repeats={args.repeats}")
    if args.tf_worker:
        return tf_worker(args.sizes_mb, args.repeats, args.threads)

    import convlite
    from convlite import _core

    if args.threads:
        convlite.set_num_threads(args.threads)
    threads = convlite.get_num_threads()

    tf_times = {}
    if not args.no_tf:
        proc = subprocess.run([sys.executable, __file__, "--tf-worker", "--repeats", str(args.repeats), "--threads", str(threads),
                               "--sizes-mb", *map(str, args.sizes_mb)], capture_output=True, text=True)
        if proc.returncode == 0:
            tf_times = json.loads(proc.stdout.strip().splitlines()[-1])
        else:
            print("TensorFlow run failed:", proc.stderr.strip().splitlines()[-1:] or proc.returncode)

    rng = np.random.default_rng(0)
    print(f"convlite {convlite.__version__}, ISA {_core.active_isa()}, threads {convlite.get_num_threads()}; "
          f"TensorFlow {tf_times.get('version', '-')}, intra-op threads {tf_times.get('threads', '-')} "
          f"; medians of {args.repeats}")
    print(f"FMA peak ({_core.fma_peak_kind()}): {_core.measure_fma_peak(0.2, 1):.1f} GFLOP/s on 1 thread, "
          f"{_core.measure_fma_peak(0.2, threads):.1f} on {threads}")
    header = f"{'op':30s} {'MB':>4s} {'ms':>8s} {'GB/s':>7s} {'copy GB/s':>9s} {'% copy':>7s} {'TF ms':>8s} {'vs TF':>6s}"
    print(header)
    print("-" * len(header))
    for mb in args.sizes_mb:
        copy = _core.measure_copy_bandwidth(mb << 20, args.repeats)
        for name, shape, nbytes in cases(mb):
            t = median_seconds(convlite_ops(name, shape, rng), args.repeats)
            gbs = nbytes / t * 1e-9
            tf_t = tf_times.get(f"{mb}:{name}")
            tf_text = f"{tf_t * 1e3:8.2f} {tf_t / t:5.1f}x" if tf_t else f"{'-':>8s} {'-':>6s}"
            print(f"{name:30s} {mb:4d} {t * 1e3:8.2f} {gbs:7.1f} {copy:9.1f} {100 * gbs / copy:6.0f}% {tf_text}")


if __name__ == "__main__":
    main()

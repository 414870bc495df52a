"""Convolution-engine benchmark: convlite side by side with numpy (sgemm) and, optionally, TensorFlow.

    PYTHONPATH=python python bench/bench_conv.py [--threads 1 2] [--repeat 7] [--tf] [--quick]

Prints the measured FMA peak of one core (a latency-hidden FMA loop), then for every case the median wall time
of --repeat runs and GFLOP/s (and % of peak x threads for the big layers). TensorFlow runs in a subprocess (its
OpenMP runtime must not share a process with ours) with the same shapes and thread count.
Never part of the test suite. On a shared machine figures move with the load: the 1-minute load average is
printed beside them.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np

# (name, batch, H, W, C_in, F, kh, kw, padding): the 3x3 layer, then small-CNN shapes.
BIG = ("conv3x3 64->64 56x56 b8 same", 8, 56, 56, 64, 64, 3, 3, "same")
SMALL = [
    ("ECG Conv1D(16,3) on (100,1) b32", 32, 1, 100, 1, 16, 1, 3, "valid"),
    ("ECG Conv1D(8,3) on (98,16) b32", 32, 1, 98, 16, 8, 1, 3, "valid"),
    ("Conv1D(64,5) on (512,32) b16 same", 16, 1, 512, 32, 64, 1, 5, "same"),
    ("Conv1D(128,3) on (256,128) b8 same", 8, 1, 256, 128, 128, 1, 3, "same"),
    ("Conv2D(32,3) on 28x28x1 b32 same", 32, 28, 28, 1, 32, 3, 3, "same"),
    ("Conv2D(64,3) on 14x14x32 b32 same", 32, 14, 14, 32, 64, 3, 3, "same"),
    ("Conv2D(128,3) on 8x8x128 b32 same", 32, 8, 8, 128, 128, 3, 3, "same"),
    ("Conv2D(16,5) on 32x32x3 b32 valid", 32, 32, 32, 3, 16, 5, 5, "valid"),
]


def pads(h, w, kh, kw, mode):
    if mode == "valid":
        return 0, 0, 0, 0
    th, tw = max(kh - 1, 0), max(kw - 1, 0)
    return th // 2, th - th // 2, tw // 2, tw - tw // 2


def median_time(fn, repeat, clock=time.perf_counter):
    fn()
    times = []
    for _ in range(repeat):
        t0 = clock()
        fn()
        times.append(clock() - t0)
    return float(np.median(times))


def flops(case):
    _, b, h, w, c, f, kh, kw, mode = case
    oh, ow = (h - kh + 1, w - kw + 1) if mode == "valid" else (h, w)
    return 2.0 * b * oh * ow * f * kh * kw * c


def convlite_case(case, repeat):
    from convlite import _core
    _, b, h, w, c, f, kh, kw, mode = case
    rng = np.random.default_rng(0)
    x = rng.standard_normal((b, h, w, c)).astype(np.float32)
    k = rng.standard_normal((kh, kw, c, f)).astype(np.float32)
    bias = np.zeros(f, np.float32)
    p = pads(h, w, kh, kw, mode)
    y = _core.conv2d(x, k, bias, padding=p)
    dy = rng.standard_normal(y.shape).astype(np.float32)
    return {
        "forward": median_time(lambda: _core.conv2d(x, k, bias, padding=p), repeat),
        "input grad": median_time(lambda: _core.conv2d_backward(x, k, None, dy, (1, 1), (1, 1), p, 1, False, True,
                                                                need_dw=False), repeat),
        "weight grad": median_time(lambda: _core.conv2d_backward(x, k, None, dy, (1, 1), (1, 1), p, 1, True,
                                                                 False), repeat),
        "fwd+dx+dw": median_time(lambda: (_core.conv2d(x, k, bias, padding=p),
                                          _core.conv2d_backward(x, k, None, dy, (1, 1), (1, 1), p, 1, True, True)),
                                 repeat),
    }


TF_SCRIPT = r"""
import json, os, sys, time
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import numpy as np, tensorflow as tf
threads, repeat, cases = int(sys.argv[1]), int(sys.argv[2]), json.loads(sys.argv[3])
tf.config.threading.set_intra_op_parallelism_threads(threads)
tf.config.threading.set_inter_op_parallelism_threads(1)
def med(fn):
    fn(); ts = []
    for _ in range(repeat):
        t0 = time.perf_counter(); fn(); ts.append(time.perf_counter() - t0)
    return float(np.median(ts))
out = {}
for name, b, h, w, c, f, kh, kw, mode in cases:
    rng = np.random.default_rng(0)
    x = tf.constant(rng.standard_normal((b, h, w, c)).astype(np.float32))
    k = tf.constant(rng.standard_normal((kh, kw, c, f)).astype(np.float32))
    pad = mode.upper()
    y = tf.nn.conv2d(x, k, 1, pad)
    dy = tf.constant(rng.standard_normal(y.shape).astype(np.float32))
    def both():
        with tf.GradientTape() as tape:
            tape.watch([x, k]); yy = tf.nn.conv2d(x, k, 1, pad)
        return tape.gradient(yy, [x, k], output_gradients=dy)
    out[name] = {
        "forward": med(lambda: tf.nn.conv2d(x, k, 1, pad).numpy()),
        "input grad": med(lambda: tf.raw_ops.Conv2DBackpropInput(input_sizes=x.shape, filter=k, out_backprop=dy,
                                                                  strides=[1, 1, 1, 1], padding=pad).numpy()),
        "weight grad": med(lambda: tf.raw_ops.Conv2DBackpropFilter(input=x, filter_sizes=k.shape, out_backprop=dy,
                                                                    strides=[1, 1, 1, 1], padding=pad).numpy()),
        "fwd+dx+dw": med(lambda: [g.numpy() for g in both()]),
    }
print(json.dumps(out))
"""


def tensorflow_times(cases, threads, repeat):
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), TF_CPP_MIN_LOG_LEVEL="3")
    try:
        res = subprocess.run([sys.executable, "-c", TF_SCRIPT, str(threads), str(repeat), json.dumps(cases)],
                             capture_output=True, text=True, env=env, timeout=1800)
    except (OSError, subprocess.TimeoutExpired) as exc:
        print(f"(TensorFlow run failed: {exc})")
        return {}
    if res.returncode != 0:
        print("(TensorFlow run failed: " + res.stderr.strip().splitlines()[-1] + ")" if res.stderr else "")
        return {}
    return json.loads(res.stdout.strip().splitlines()[-1])


def fma_peak():
    from convlite import _core
    best = 0.0
    for _ in range(5):
        t0 = time.perf_counter()
        done = _core.fma_peak_flops(10_000_000)
        best = max(best, done / (time.perf_counter() - t0) / 1e9)
    return best


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--tf", action="store_true", help="also time TensorFlow (subprocess)")
    ap.add_argument("--quick", action="store_true", help="only the big layer and sgemm")
    args = ap.parse_args()
    args.repeat = max(args.repeat, 5)
    import convlite
    from convlite import _core
    peak = fma_peak()
    print(f"convlite {convlite.__version__}, isa {convlite.get_isa()}, load average {os.getloadavg()[0]:.1f} "
          f"on {os.cpu_count()} CPUs (shared machine: figures are noisy)")
    print(f"measured FMA peak: {peak:.0f} GFLOP/s per core (best of 5)")
    cases = [BIG] + ([] if args.quick else SMALL)
    for threads in args.threads:
        convlite.set_num_threads(threads)
        print(f"\n== threads = {threads} ==")
        rng = np.random.default_rng(1)
        a = rng.standard_normal((1024, 1024)).astype(np.float32)
        b = rng.standard_normal((1024, 1024)).astype(np.float32)
        t_ours = median_time(lambda: _core.sgemm(a, b), args.repeat)
        try:
            from threadpoolctl import threadpool_limits
            with threadpool_limits(threads):
                t_np = median_time(lambda: a @ b, args.repeat)
        except ImportError:
            t_np = median_time(lambda: a @ b, args.repeat)
        g = 2 * 1024**3 / 1e9
        print(f"sgemm 1024^3: convlite {g / t_ours:.1f} GFLOP/s, numpy {g / t_np:.1f} GFLOP/s, "
              f"ratio {t_np / t_ours:.2f}x")
        tf_res = tensorflow_times([list(c) for c in cases], threads, args.repeat) if args.tf else {}
        print(f"{'case':38s} {'op':11s} {'convlite ms':>11s} {'GFLOP/s':>8s} {'%peak':>6s}" +
              (f" {'TF ms':>8s} {'speedup':>7s}" if tf_res else ""))
        for case in cases:
            ours = convlite_case(case, args.repeat)
            fl = flops(case)
            for op, t in ours.items():
                work = fl * (3 if op == "fwd+dx+dw" else 1)
                line = (f"{case[0]:38s} {op:11s} {t * 1e3:11.3f} {work / t / 1e9:8.1f} "
                        f"{work / t / 1e9 / (peak * threads) * 100:5.0f}%")
                if tf_res:
                    tt = tf_res.get(case[0], {}).get(op)
                    line += f" {tt * 1e3:8.3f} {tt / t:6.2f}x" if tt else ""
                print(line)
    print(f"\nload average after the run: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()

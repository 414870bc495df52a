"""Where a training step goes: `python -m convlite.bench.profile_step [MODEL ...] [--threads N] [--steps N]`.

Times each part of the C++ training step of the bench's models (forward and backward per Keras layer, the loss
with metrics, the optimizer update), on random data of the bench's batch size. A layer with a separate activation
(e.g. Conv2D(..., activation="tanh")) counts the activation in its own row, as Keras's summary would show it.
This is a development tool: the bench's tables (python -m convlite.bench) are the figures to quote.
"""
from __future__ import annotations

import argparse
import time

import numpy as np

from .. import _core
from . import keras_models, rows


def _layer_ranges(model):
    """For each Keras-level layer, the range of C++ layers it emitted (by rebuilding the emission on a probe)."""
    probe = _core.Model()
    shape = (None,) + tuple(model._input_layer.shape)
    ranges = []
    for layer in model.layers:
        start = probe.num_layers
        layer._emit(probe, shape)
        ranges.append((layer.name, start, probe.num_layers))
        shape = layer.compute_output_shape(shape)
    return ranges


def profile_model(name, steps=30, warmup=5, seed=0, thread_cpu=False):
    """Returns (wall ms per step, [(part, forward ms, backward ms)], {gather, loss, optimizer} ms)."""
    import convlite

    model = keras_models.MODELS[name](convlite)
    model.compile(**keras_models.COMPILE[name])
    rng = np.random.default_rng(seed)
    batch = rows.TRAIN_BATCH[name]
    x = rng.standard_normal((batch,) + tuple(model._input_layer.shape)).astype(np.float32)
    classes = model.output_shape[-1]
    y = (rng.integers(0, 2, (batch, 1)) if classes == 1 else rng.integers(0, classes, batch)).astype(np.float32)
    for _ in range(warmup):
        model.train_on_batch(x, y)
    core = model._compiled_core(training=True)
    core.set_profiling(True, thread_cpu)
    start = time.perf_counter()
    for _ in range(steps):
        model.train_on_batch(x, y)
    wall = (time.perf_counter() - start) / steps * 1e3
    p = core.profile()
    core.set_profiling(False)
    per_step = 1e3 / max(p["steps"], 1)
    parts = [(layer, sum(p["forward"][a:b]) * per_step, sum(p["backward"][a:b]) * per_step)
             for layer, a, b in _layer_ranges(model)]
    rest = {key: p[key] * per_step for key in ("gather", "loss", "optimizer")}
    return wall, parts, rest


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m convlite.bench.profile_step", description=__doc__.split("\n")[0])
    parser.add_argument("models", nargs="*", metavar="MODEL", help=f"any of {', '.join(keras_models.MODELS)} (default: all)")
    parser.add_argument("--threads", type=int, default=None, help="threads (default: all cores)")
    parser.add_argument("--steps", type=int, default=30, help="timed steps after 5 warm-up steps")
    parser.add_argument("--cpu", action="store_true",
                        help="time with the main thread's CPU clock: steady on a busy machine, exact with --threads 1 "
                             "(with more threads it leaves out the workers' share)")
    args = parser.parse_args(argv)
    unknown = [m for m in args.models if m not in keras_models.MODELS]
    if unknown:
        parser.error(f"unknown model {unknown[0]!r}; choose from {', '.join(keras_models.MODELS)}")
    import convlite

    if args.threads:
        convlite.set_num_threads(args.threads)
    for name in args.models or list(keras_models.MODELS):
        wall, parts, rest = profile_model(name, steps=args.steps, thread_cpu=args.cpu)
        clock = "main thread's CPU time" if args.cpu else "wall time"
        print(f"{name}: {wall:.3f} ms wall per step (batch {rows.TRAIN_BATCH[name]}, "
              f"{convlite.get_num_threads()} thread(s)); parts in {clock}")
        print(f"  {'layer':28s} {'forward ms':>10s} {'backward ms':>11s}")
        for layer, fwd, bwd in parts:
            print(f"  {layer:28s} {fwd:10.3f} {bwd:11.3f}")
        print("  " + ", ".join(f"{key} {ms:.3f} ms" for key, ms in rest.items()))


if __name__ == "__main__":
    main()

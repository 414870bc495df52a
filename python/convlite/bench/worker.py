"""One framework's process: `python -m convlite.bench.worker --framework NAME --rows ... --out FILE`.

The runner starts one of these per framework (and fresh ones for peak RSS), so frameworks never share a process:
no clash of OpenMP runtimes, no allocator or thread-pool state carried from one to the next. Results go to a JSON
file (TensorFlow writes to stdout/stderr on its own).
"""
from __future__ import annotations

import argparse
import importlib
import json
import os
import resource
import sys
import tempfile
import time
import traceback

from . import footprint
from .timing import Settings

MODULES = {
    "convlite": "convlite.bench.workloads_convlite",
    "tensorflow": "convlite.bench.workloads_tensorflow",
    "torch": "convlite.bench.workloads_torch",
    "numpy": "convlite.bench.workloads_numpy",
}


def _import_capturing_stderr(framework: str):
    """Import the framework first (timed: nothing heavy is loaded yet), then its workload module.

    TensorFlow says on stderr, at import, whether its oneDNN custom operations are on; that text is kept as the
    evidence. Returns (workload module, captured stderr, seconds the framework's own imports took).
    """
    with tempfile.TemporaryFile(mode="w+b") as log:
        sys.stderr.flush()
        saved = os.dup(2)
        os.dup2(log.fileno(), 2)
        try:
            t0 = time.perf_counter()
            for name in footprint.IMPORTS[framework]:
                importlib.import_module(name)
            seconds = time.perf_counter() - t0
            module = importlib.import_module(MODULES[framework])
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
        log.seek(0)
        text = log.read().decode("utf-8", "replace")
    return module, text, seconds


def _settle_allocator() -> None:
    """Puts glibc malloc in the state any process reaches once it has freed one large array, before any row runs.

    glibc raises its mmap threshold to the size of a freed mmapped block (up to 32 MB). Until a block at least as
    large as a row's output has been freed, every call of that row gets a fresh mapping and page-faults its output
    in (measured: 12.8 MB outputs took 28 faults and about 1 ms per call, gone after one 30 MB block was freed), so
    a row's time depended on which rows had run before it. numpy and convlite allocate through malloc; TensorFlow
    and PyTorch keep their own caches. Done in every worker alike."""
    import numpy as np

    block = np.empty(30 << 20, np.uint8)  # below glibc's 32 MB cap on the dynamic threshold
    del block


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m convlite.bench.worker")
    parser.add_argument("--framework", required=True, choices=sorted(MODULES))
    parser.add_argument("--rows", default="", help="comma-separated row ids")
    parser.add_argument("--mode", default="rows", choices=["rows", "peak_rss", "machine"])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)

    result = {"framework": args.framework, "mode": args.mode, "cells": {}}
    try:
        module, log, import_seconds = _import_capturing_stderr(args.framework)
        if args.mode == "rows":
            _settle_allocator()
        module.setup(args.threads)
        result["info"] = module.framework_info(log)
        result["import_seconds"] = import_seconds
        settings = Settings(repeats=args.repeats, quick=args.quick, threads=args.threads)
        t0 = time.perf_counter()
        if args.mode == "rows":
            wanted = {r for r in args.rows.split(",") if r}
            result["cells"] = module.run(wanted, settings)
        elif args.mode == "peak_rss":
            result["workload"] = module.peak_rss_workload()
            # ru_maxrss is in KiB on Linux: the process's high-water mark, import included.
            result["peak_rss_bytes"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        else:
            result["machine"] = module.machine_probes(args.threads, args.quick)
        result["seconds"] = time.perf_counter() - t0
    except Exception as error:  # noqa: BLE001 - report it to the runner, which keeps going with the others
        result["error"] = f"{type(error).__name__}: {error}"
        result["traceback"] = traceback.format_exc()
    with open(args.out, "w", encoding="utf-8") as handle:
        json.dump(result, handle)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""`python -m convlite.bench`: run every framework in its own process on the same rows and print one table.

The runner itself imports no framework: it reads the machine's facts, starts one worker process per framework
column (convlite; TensorFlow with default settings and with TF_ENABLE_ONEDNN_OPTS=1; PyTorch and numpy when
present), fresh processes for import time and peak RSS, then lines the cells up as ratios.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import os
import site
import subprocess
import sys
import tempfile
import time

from . import footprint, goals, machine, report, rows
from .rows import Row

COLUMNS = [
    # key, framework, label, extra environment (None removes the variable)
    ("convlite", "convlite", "convlite", {}),
    ("tf", "tensorflow", "TF default", {"TF_ENABLE_ONEDNN_OPTS": None}),
    ("tf_onednn", "tensorflow", "TF oneDNN", {"TF_ENABLE_ONEDNN_OPTS": "1"}),
    ("torch", "torch", "PyTorch", {}),
    ("numpy", "numpy", "numpy", {"OPENBLAS_CORETYPE": None, "OPENBLAS_L2_SIZE": None}),
]
# Rows each column implements (numpy only where it is the reference named in an issue).
NUMPY_ROWS = {"kernel/sgemm1024", "kernel/dense_fwd", "kernel/relu_fwd", "kernel/relu_bwd", "kernel/softmax",
              "kernel/adam_1m", "footprint/import", "footprint/installed"}
TORCH_SKIPS = {"infer/ecg_1_predict_on_batch", "infer/ecg_1_predict"}  # no such methods in PyTorch


def parse_args(argv):
    p = argparse.ArgumentParser(prog="python -m convlite.bench", description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="small sizes and fewer samples: under two minutes")
    p.add_argument("--only", metavar="ROW", help="rows whose id or label matches (substring or regex)")
    p.add_argument("--json", metavar="FILE", help="also write every cell (samples included) as JSON")
    p.add_argument("--markdown", action="store_true", help="print the table as Markdown")
    p.add_argument("--repeats", type=int, default=None, help="samples per cell (default 5; 3 with --quick)")
    p.add_argument("--threads", type=int, default=None, help="threads for every framework (default: all cores)")
    p.add_argument("--frameworks", default=None,
                   help="comma-separated columns to run (default: all installed): " + ",".join(c[0] for c in COLUMNS))
    p.add_argument("--list", action="store_true", help="list the rows and exit")
    args = p.parse_args(argv)
    if args.repeats is None:
        args.repeats = 3 if args.quick else 5
    if args.repeats < 1:
        p.error(f"--repeats must be at least 1. Received: repeats={args.repeats}")
    if args.threads is None:
        args.threads = machine.core_counts().get("usable") or os.cpu_count() or 1
    if args.threads < 1:
        p.error(f"--threads must be at least 1. Received: threads={args.threads}")
    return args


def available_columns(requested: str | None) -> tuple[list[tuple], list[str]]:
    notes = []
    installed = {"convlite": True, "numpy": True,
                 "tensorflow": importlib.util.find_spec("tensorflow") is not None,
                 "torch": importlib.util.find_spec("torch") is not None}
    chosen = [c for c in COLUMNS if installed[c[1]]]
    if not installed["tensorflow"]:
        notes.append("TensorFlow is not installed: convlite is measured alone (no TensorFlow ratios; "
                     "`pip install tensorflow-cpu` adds them).")
    if not installed["torch"]:
        notes.append("PyTorch is not installed: no PyTorch column (`pip install torch` adds it).")
    if requested:
        keys = {k.strip() for k in requested.split(",") if k.strip()}
        unknown = keys - {c[0] for c in COLUMNS}
        if unknown:
            raise SystemExit(f"--frameworks: unknown column(s) {sorted(unknown)}; choose from "
                             f"{[c[0] for c in COLUMNS]}. Received: frameworks={requested!r}")
        chosen = [c for c in chosen if c[0] in keys or c[0] == "convlite"]
    return chosen, notes


def child_env(extra: dict, threads: int) -> dict:
    env = dict(os.environ)
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env[name] = str(threads)
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "0")  # keep TF's "oneDNN custom operations are on" line visible
    # The workers import this same convlite: from site-packages when installed, else from the source tree.
    package_parent = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    if package_parent not in {os.path.abspath(p) for p in site.getsitepackages()}:
        env["PYTHONPATH"] = os.pathsep.join([package_parent] + [p for p in [env.get("PYTHONPATH")] if p])
    for key, value in extra.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return env


def run_worker(framework: str, env: dict, args, mode: str = "rows", row_ids=()) -> dict:
    with tempfile.TemporaryDirectory(prefix="convlite-bench-") as tmp:
        out = os.path.join(tmp, "result.json")
        cmd = [sys.executable, "-m", "convlite.bench.worker", "--framework", framework, "--mode", mode,
               "--rows", ",".join(row_ids), "--repeats", str(args.repeats), "--threads", str(args.threads),
               "--out", out] + (["--quick"] if args.quick else [])
        try:
            proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=3600, check=False)
        except subprocess.TimeoutExpired:
            return {"error": f"{framework} worker timed out"}
        if not os.path.exists(out):
            tail = (proc.stderr or "").strip().splitlines()[-5:]
            return {"error": f"{framework} worker exited with {proc.returncode}: {' | '.join(tail)}"}
        with open(out, encoding="utf-8") as handle:
            return json.load(handle)


def _progress(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def measure(args) -> dict:
    selected: list[Row] = rows.select_rows(args.only)
    columns, notes = available_columns(args.frameworks)
    facts = machine.static_facts()
    facts["load_before"] = machine.load_average()
    results = {
        "command": "python -m convlite.bench " + " ".join(sys.argv[1:] if args.argv is None else args.argv),
        "settings": {"repeats": args.repeats, "threads": args.threads, "quick": args.quick, "only": args.only},
        "machine": facts,
        "columns": [{"key": c[0], "framework": c[1], "label": c[2]} for c in columns],
        "frameworks": {},
        "rows": {r.id: {"id": r.id, "group": r.group, "label": r.label, "cells": {}} for r in selected},
        "notes": notes,
    }
    start = time.perf_counter()
    _progress("machine probes (FMA peak, copy bandwidth) in a convlite process")
    probe = run_worker("convlite", child_env({}, args.threads), args, mode="machine")
    facts.update(probe.get("machine", {}))
    if "error" in probe:
        facts["fma_peak_gflops"] = None
        notes.append(f"machine probes failed: {probe['error']}")
    in_process = [r for r in selected if not r.fresh_process and r.id != "footprint/installed"]
    if args.quick and "footprint/peak_rss" in results["rows"] and args.only is None:
        del results["rows"]["footprint/peak_rss"]
        notes.append("--quick skips peak RSS (one more fresh process per framework); run without --quick for it.")
    for column in columns:
        _run_column(column, in_process, results, args)
    if not args.quick:
        _progress("machine probes again (the load on a shared machine drifts during a run)")
        again = run_worker("convlite", child_env({}, args.threads), args, mode="machine").get("machine", {})
        facts["fma_peak_gflops_start"] = facts.get("fma_peak_gflops")
        facts["fma_peak_gflops_end"] = again.get("fma_peak_gflops")
        if facts["fma_peak_gflops_end"] and (facts.get("fma_peak_gflops") or 0) < facts["fma_peak_gflops_end"]:
            facts["fma_peak_gflops"] = facts["fma_peak_gflops_end"]  # % of peak uses the higher of the two
    facts["load_after"] = machine.load_average()
    cores = facts["cores"].get("usable") or 1
    if max((facts["load_before"] or [0])[0], (facts["load_after"] or [0])[0]) > cores:
        notes.append(f"The machine was busier than its {cores} core(s) during this run: absolute times are inflated "
                     "and a multi-threaded OpenMP team stalls whenever one of its threads is descheduled; "
                     "compare ratios from this run only, or rerun on a quiet machine (--threads 1 is steadier).")
    facts["load"] = machine.describe_load(facts["load_before"], facts["load_after"], facts["cores"].get("usable"))
    results["seconds"] = time.perf_counter() - start
    results["ratios"] = report.ratios(results)
    results["goals"] = goals.evaluate(results)
    return results


def _run_column(column: tuple, in_process: list, results: dict, args) -> None:
    """Every measurement of one framework column: its rows in one process, then the footprint rows."""
    key, framework, label, extra = column
    env = child_env(extra, args.threads)
    table, notes = results["rows"], results["notes"]
    first_import = None  # a worker result whose import was the first thing in a fresh process
    wanted = [r.id for r in in_process if _implements(key, r.id)]
    if wanted:
        _progress(f"{label}: {len(wanted)} row(s)")
        result = first_import = run_worker(framework, env, args, row_ids=wanted)
        results["frameworks"][key] = result.get("info", {})
        if "error" in result:
            notes.append(f"{label}: {result['error']}")
        for row_id in wanted:
            table[row_id]["cells"][key] = (result.get("cells", {}).get(row_id)
                                           or {"pending": result.get("error", "not measured")})
    footprint_column = key not in ("tf_onednn",)  # same packages and import as "TF default"
    if "footprint/peak_rss" in table and footprint_column and key != "numpy":
        _progress(f"{label}: peak RSS of an ECG fit in a fresh process")
        result = first_import = run_worker(framework, env, args, mode="peak_rss")
        results["frameworks"].setdefault(key, result.get("info", {}))
        table["footprint/peak_rss"]["cells"][key] = (
            {"median": float(result["peak_rss_bytes"]), "spread": 0.0, "n": 1, **result.get("workload", {})}
            if "peak_rss_bytes" in result else {"pending": result.get("error", "failed")})
    if "footprint/import" in table and footprint_column and _implements(key, "footprint/import"):
        table["footprint/import"]["cells"][key] = _import_cell(framework, label, env, args, first_import)
    if "footprint/installed" in table and footprint_column and _implements(key, "footprint/installed"):
        table["footprint/installed"]["cells"][key] = footprint.installed_cell(framework)


def _import_cell(framework: str, label: str, env: dict, args, worker_result: dict | None) -> dict:
    """Import time in fresh processes; with --quick, TensorFlow and PyTorch reuse their worker's own timed import
    (one sample: it is the first thing that worker does) instead of paying several more slow imports."""
    heavy = framework in ("tensorflow", "torch")
    if args.quick and heavy and worker_result and "import_seconds" in worker_result:
        t = worker_result["import_seconds"]
        return {"median": t, "q1": t, "q3": t, "min": t, "max": t, "spread": 0.0, "n": 1, "samples": [t],
                "method": "the worker's own first import (--quick)"}
    repeats = 3 if args.quick else max(args.repeats, 5)
    _progress(f"{label}: import time x{repeats}")
    return footprint.import_seconds(framework, repeats, env)


def _implements(column: str, row_id: str) -> bool:
    row = rows.ROWS_BY_ID.get(row_id)
    if row is not None and row.convlite_only:
        return column == "convlite"
    if column == "numpy":
        return row_id in NUMPY_ROWS
    if column == "torch":
        return row_id not in TORCH_SKIPS
    return True


def main(argv=None) -> int:
    args = parse_args(argv)
    args.argv = argv
    if args.list:
        for r in rows.ROWS:
            print(f"{r.id:32s} {r.label}")
        return 0
    try:
        results = measure(args)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    text = report.render(results, markdown=args.markdown)
    print(text)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump(results, handle, indent=1)
    return 0

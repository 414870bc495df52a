"""Build and run-time configuration: ISA dispatch and threads."""
from __future__ import annotations

import os
import platform
import sys

# OpenMP workers that spin after a parallel region steal the CPU from the thread that still has work, and on a
# busy two-core machine that made small-model training several times slower (measured: 58 ms vs 8 ms per step).
# Passive waiting costs a few microseconds per region instead. It must be set before libgomp loads with _core;
# a user's own OMP_WAIT_POLICY wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from . import _core  # noqa: E402

__version__: str = _core.__version__


def get_isa() -> str:
    """The instruction set the kernels run with: 'avx2', 'avx512', 'neon' or 'scalar'.

    Chosen once at import (the widest tier the CPU supports and our tests have run on real hardware), or forced
    with the environment variable ``CONVLITE_ISA=scalar|avx2|avx512``.
    """
    return _core.active_isa()


def available_isas() -> list[str]:
    """Instruction sets compiled into this build and supported by this CPU, narrowest first."""
    return list(_core.available_isas())


def get_num_threads() -> int:
    """Threads convlite's kernels may use (OMP_NUM_THREADS at import, or set_num_threads)."""
    return _core.get_num_threads()


def set_num_threads(n: int) -> None:
    """Use at most ``n`` threads in convlite's kernels. Small layers still run on one thread."""
    if isinstance(n, bool) or not isinstance(n, int):
        raise TypeError(f"`n` must be a positive int. Received: n={n!r} of type {type(n).__name__}")
    if n < 1:
        raise ValueError(f"`n` must be at least 1. Received: n={n}")
    _core.set_num_threads(n)


_CONV_ALGORITHMS = {
    "auto": "Winograd F(2x2,3x3) or F(4x4,3x3) for 3x3 stride-1 convs where it measured faster, else implicit GEMM",
    "gemm": "implicit GEMM everywhere",
    "winograd": "Winograd for every 3x3 stride-1 conv, tile size by cost model",
    "winograd2": "Winograd with 2x2 output tiles for every 3x3 stride-1 conv",
    "winograd4": "Winograd with 4x4 output tiles for every 3x3 stride-1 conv",
}


def show_config(file=None) -> None:
    """Print version, compiler and flags, ISA chosen and available, conv algorithm, OpenMP runtime and threads."""
    isas = available_isas()
    notes = [f"{name}{'' if _core.isa_tested(name) else ' (untested: opt-in only)'}" for name in isas]
    lines = [
        f"convlite {__version__}",
        f"python: {sys.version.split()[0]} ({platform.machine()}, {platform.system()})",
        f"compiler: {_core.compiler}",
        f"build flags: {_core.build_flags.strip() or '(none)'}",
        f"kernel flags: {_core.isa_flags}",
        f"isa: {get_isa()}" + (f" (forced by CONVLITE_ISA={os.environ['CONVLITE_ISA']})"
                               if os.environ.get("CONVLITE_ISA") else ""),
        f"isa available: {', '.join(notes)}",
        f"conv algorithm: {_core.get_conv_algorithm()} ({_CONV_ALGORITHMS.get(_core.get_conv_algorithm(), '')})"
        + (f" (CONVLITE_CONV_ALGO={os.environ['CONVLITE_CONV_ALGO']})" if os.environ.get("CONVLITE_CONV_ALGO") else ""),
        f"openmp: {_core.openmp_runtime()}",
        f"threads: {get_num_threads()}" + (f" (OMP_NUM_THREADS={os.environ['OMP_NUM_THREADS']})"
                                           if os.environ.get("OMP_NUM_THREADS") else ""),
    ]
    print("\n".join(lines), file=file if file is not None else sys.stdout)

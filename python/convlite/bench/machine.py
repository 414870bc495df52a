"""Facts about the machine the numbers came from: CPU, cores, ISA, load, memory, software."""
from __future__ import annotations

import os
import platform
import sys
import time


def _cpuinfo() -> dict:
    info = {}
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as handle:
            for line in handle:
                key, _, value = line.partition(":")
                key, value = key.strip(), value.strip()
                if key in ("model name", "flags", "cpu MHz", "Features", "CPU implementer") and key not in info:
                    info[key] = value
    except OSError:
        pass
    return info


def cpu_model() -> str:
    info = _cpuinfo()
    return info.get("model name") or platform.processor() or platform.machine()


def cpu_simd_flags() -> list[str]:
    flags = set((_cpuinfo().get("flags") or _cpuinfo().get("Features") or "").split())
    wanted = ["sse4_2", "avx", "avx2", "fma", "avx512f", "avx512bw", "avx512vl", "avx512_vnni", "avx512_bf16",
              "avx_vnni", "amx_tile", "asimd", "sve"]
    return [f for f in wanted if f in flags]


def core_counts() -> dict:
    counts = {"logical": os.cpu_count()}
    if hasattr(os, "sched_getaffinity"):
        counts["usable"] = len(os.sched_getaffinity(0))
    return counts


def load_average() -> list[float] | None:
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except OSError:
        return None


def memory_total_bytes() -> int | None:
    try:
        with open("/proc/meminfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def static_facts() -> dict:
    """What can be read without running anything heavy (the runner adds probes and framework versions)."""
    return {
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "cpu": cpu_model(),
        "simd_flags": cpu_simd_flags(),
        "cores": core_counts(),
        "memory_bytes": memory_total_bytes(),
        "os": f"{platform.system()} {platform.release()}",
        "python": sys.version.split()[0],
        "machine": platform.machine(),
    }


def describe_load(before: list[float] | None, after: list[float] | None, cores: int | None) -> str:
    """A plain statement of how busy the machine was, for the report header."""
    if not before or not after or not cores:
        return "load average unknown"
    worst = max(before[0], after[0])
    state = "quiet" if worst < 0.5 * cores else ("busy" if worst < 1.5 * cores else "heavily loaded")
    return (f"load average (1/5/15 min) before {before[0]:.2f}/{before[1]:.2f}/{before[2]:.2f}, after "
            f"{after[0]:.2f}/{after[1]:.2f}/{after[2]:.2f} on {cores} cores: {state}")

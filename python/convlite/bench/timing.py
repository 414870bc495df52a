"""Timing: warm-up excluded, loops calibrated so one sample is long enough to time, median and spread reported."""
from __future__ import annotations

import math
import statistics
import time
from dataclasses import dataclass


@dataclass
class Settings:
    """What every workload needs to know about the run."""

    repeats: int = 5  # samples per cell (the median is over these)
    quick: bool = False
    threads: int = 1

    @property
    def sample_seconds(self) -> float:
        """Minimum wall time of one sample: long enough that timer resolution and one interrupt do not decide."""
        return 0.02 if self.quick else 0.1


def summarize(samples: list[float], calls_per_sample: int = 1, **extra) -> dict:
    """Median and spread of per-call times (seconds). Spread: the interquartile range, relative to the median."""
    ordered = sorted(samples)
    median = statistics.median(ordered)
    if len(ordered) >= 4:
        q = statistics.quantiles(ordered, n=4, method="inclusive")
        q1, q3 = q[0], q[2]
    else:
        q1, q3 = ordered[0], ordered[-1]
    cell = {
        "median": median,
        "q1": q1,
        "q3": q3,
        "min": ordered[0],
        "max": ordered[-1],
        "spread": (q3 - q1) / median if median > 0 else 0.0,
        "n": len(ordered),
        "calls_per_sample": calls_per_sample,
        "samples": samples,
    }
    cell.update(extra)
    return cell


def time_calls(fn, settings: Settings, min_warmup_calls: int = 2, **extra) -> dict:
    """Time `fn()`: warm-up calls first (excluded), then `settings.repeats` samples of k calls each.

    k is chosen from the warm-up so one sample lasts at least `settings.sample_seconds`; the cell holds time per call.
    """
    start = time.perf_counter()
    calls = 0
    while calls < min_warmup_calls or time.perf_counter() - start < settings.sample_seconds / 2:
        fn()
        calls += 1
    # Estimate one call from the last warm-up call alone: the first ones pay tracing and allocation.
    t0 = time.perf_counter()
    fn()
    estimate = max(time.perf_counter() - t0, 1e-7)
    k = max(1, math.ceil(settings.sample_seconds / estimate))
    samples = []
    for _ in range(settings.repeats):
        t0 = time.perf_counter()
        for _ in range(k):
            fn()
        samples.append((time.perf_counter() - t0) / k)
    return summarize(samples, calls_per_sample=k, wall_seconds=time.perf_counter() - start, **extra)


class EpochClock:
    """Epoch durations from on_epoch_begin / on_epoch_end, for any framework's callback to forward to."""

    def __init__(self):
        self.durations: list[float] = []
        self._begin = None

    def begin(self):
        self._begin = time.perf_counter()

    def end(self):
        if self._begin is not None:
            self.durations.append(time.perf_counter() - self._begin)
            self._begin = None


def epochs_per_sample(epoch_seconds: float, settings: Settings) -> int:
    """Epochs timed together in one sample, so a sub-millisecond epoch is still timed over a measurable span."""
    return max(1, math.ceil(settings.sample_seconds / max(epoch_seconds, 1e-6)))


def fold_epochs(durations: list[float], per_sample: int) -> list[float]:
    """Mean epoch time of each consecutive group of `per_sample` epochs."""
    groups = [durations[i:i + per_sample] for i in range(0, len(durations) - per_sample + 1, per_sample)]
    return [sum(g) / len(g) for g in groups]

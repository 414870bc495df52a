"""Machine-fact micro-benchmarks (used by bench/): they run, return sane positive numbers and reject bad arguments.
No timing is asserted."""
import math

import pytest

from convlite import _core


def test_fma_peak_and_copy_bandwidth_return_positive_rates():
    assert _core.fma_peak_kind() in ("avx2-fma", "scalar")
    for threads in (1, 2):
        rate = _core.measure_fma_peak(0.02, threads)
        assert math.isfinite(rate) and rate > 0
    for threads in (0, 1):
        rate = _core.measure_copy_bandwidth(1 << 16, 5, threads)
        assert math.isfinite(rate) and rate > 0


@pytest.mark.parametrize("call, text", [
    (lambda: _core.measure_fma_peak(0.0), "seconds=0"),
    (lambda: _core.measure_fma_peak(0.1, 0), "threads=0"),
    (lambda: _core.measure_copy_bandwidth(10), "nbytes=10"),
    (lambda: _core.measure_copy_bandwidth(1 << 20, 0), "repeats=0"),
])
def test_bad_arguments_are_named(call, text):
    with pytest.raises(ValueError, match="Received") as info:
        call()
    assert text in str(info.value)

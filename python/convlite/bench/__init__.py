"""Side-by-side benchmark of convlite against TensorFlow/Keras (and PyTorch, numpy): `python -m convlite.bench`.

Each framework runs in its own process on the same data and thread count; warm-up is excluded; every cell is the
median of at least five samples with its spread; one table shows the ratios with the machine's facts (CPU, ISA,
cores, measured FMA peak and copy bandwidth, load average, versions, TensorFlow's oneDNN setting). See
bench/RESULTS.md for the latest full tables, bench/README.md for how they are measured, and `python -m convlite.bench
--help` for the options (--quick, --only, --json, --markdown).
"""
from .runner import main

__all__ = ["main"]

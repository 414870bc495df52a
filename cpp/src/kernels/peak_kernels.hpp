// Machine-fact micro-benchmarks for the bench: an FMA-throughput loop per ISA and the copy bandwidth, so that
// kernel figures can be reported as fractions of what this machine can do.
#pragma once
#include <cstdint>

namespace convlite {

// Runs `iterations` steps of independent multiply-add chains; returns a value that depends on all of them (so the
// loop cannot be removed) and writes the floating-point operations performed to *flops.
double fma_loop_scalar(std::int64_t iterations, double* flops);
#if defined(CONVLITE_HAVE_AVX2)
double fma_loop_avx2(std::int64_t iterations, double* flops);
#endif

// GFLOP/s of the widest multiply-add loop this CPU runs (AVX2 FMA when available, else the scalar loop), over about
// `seconds` of wall time on `threads` threads (each thread runs the same loop; flops are summed).
double measure_fma_peak(double seconds, int threads);
// Which loop measure_fma_peak uses: "avx2-fma" or "scalar".
const char* fma_peak_kind();
// Median GB/s over `repeats` copies of `nbytes` between two buffers, counting nbytes read + nbytes written per
// copy (the STREAM "Copy" convention); the copy is split across `threads` threads (0: convlite's thread count).
double measure_copy_bandwidth(std::int64_t nbytes, int repeats, int threads);

}  // namespace convlite

// Scalar multiply-add loop: 12 independent chains of acc = acc * a + b (2 flops each, never contracted: this file
// is built with -ffp-contract=off). The compiler may pack the chains into baseline SSE; that is the baseline peak.
#include "kernels/peak_kernels.hpp"

namespace convlite {

double fma_loop_scalar(std::int64_t iterations, double* flops) {
  float a0 = 0.1f, a1 = 0.2f, a2 = 0.3f, a3 = 0.4f, a4 = 0.5f, a5 = 0.6f, a6 = 0.7f, a7 = 0.8f, a8 = 0.9f,
        a9 = 1.0f, a10 = 1.1f, a11 = 1.2f;
  const float m = 0.9999999f, c = 1e-7f;  // fixed point c / (1 - m) = 1: no overflow, no denormals
  for (std::int64_t i = 0; i < iterations; ++i) {
    a0 = a0 * m + c; a1 = a1 * m + c; a2 = a2 * m + c; a3 = a3 * m + c;
    a4 = a4 * m + c; a5 = a5 * m + c; a6 = a6 * m + c; a7 = a7 * m + c;
    a8 = a8 * m + c; a9 = a9 * m + c; a10 = a10 * m + c; a11 = a11 * m + c;
  }
  *flops = 24.0 * static_cast<double>(iterations);
  return static_cast<double>(a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7 + a8 + a9 + a10 + a11);
}

}  // namespace convlite

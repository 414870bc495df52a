// The activation family's kernel table. One table per ISA, each defined in its own translation unit
// (activation_<isa>.cpp) whose functions have internal linkage; only the getter below is exported.
#pragma once
#include <cstdint>

#include "convlite/activation.hpp"

namespace convlite {

struct ActivationKernels {
  // Kernels copy `p` into a local before their loop: a store to y could alias the referenced struct, so with the
  // reference the compiler reloaded and re-tested p's fields for every vector (~20 instructions around one max).
  void (*relu_forward)(const float* x, float* y, std::int64_t n, const ReluParams& p);
  void (*relu_backward)(const float* x, const float* dy, float* dx, std::int64_t n, const ReluParams& p);
  // Every elementwise kind but relu (which keeps its own kernels above) and softmax / log_softmax.
  void (*forward)(const ActivationParams& p, const float* x, float* y, std::int64_t n);
  // Reads x and y only where activation_backward_needs_x / _needs_y say so; dx may alias dy.
  void (*backward)(const ActivationParams& p, const float* x, const float* y, const float* dy, float* dx,
                   std::int64_t n);
  // `rows` rows of length d; log_output selects log_softmax.
  void (*softmax_forward)(const float* x, float* y, std::int64_t rows, std::int64_t d, bool log_output);
  void (*softmax_backward)(const float* y, const float* dy, float* dx, std::int64_t rows, std::int64_t d,
                           bool log_output);
};

const ActivationKernels& activation_kernels_scalar();
#if defined(CONVLITE_HAVE_AVX2)
const ActivationKernels& activation_kernels_avx2();
#endif
#if defined(CONVLITE_HAVE_AVX512)
const ActivationKernels& activation_kernels_avx512();
#endif

}  // namespace convlite

// The pooling family's kernel table, one per ISA (pool_<isa>.cpp, internal linkage, one exported getter).
// Ranges: r0..r1 are rows of the flattened (batch * out_h) output; b0..b1 are batch items.
#pragma once
#include <cstdint>

#include "convlite/pool.hpp"

namespace convlite {

struct PoolKernels {
  void (*max_forward)(const Pool2dShape& s, const float* x, float* y, std::int32_t* argmax, std::int64_t r0,
                      std::int64_t r1);
  void (*avg_forward)(const Pool2dShape& s, const float* x, float* y, std::int64_t r0, std::int64_t r1);
  // Windows must not overlap (stride >= pool); writes every covered cell, leaves uncovered cells alone.
  void (*max_backward_disjoint)(const Pool2dShape& s, const std::int32_t* argmax, const float* dy, float* dx,
                                std::int64_t r0, std::int64_t r1);
  // accumulate=false needs disjoint windows; accumulate=true adds into a zeroed dx.
  void (*avg_backward)(const Pool2dShape& s, const float* dy, float* dx, std::int64_t r0, std::int64_t r1,
                       bool accumulate);
  void (*global_avg_forward)(std::int64_t b0, std::int64_t b1, std::int64_t spatial, std::int64_t channels,
                             const float* x, float* y);
  void (*global_max_forward)(std::int64_t b0, std::int64_t b1, std::int64_t spatial, std::int64_t channels,
                             const float* x, float* y, std::int32_t* argmax);
  // The same four operations specialised for 2x2 windows at stride 2 that all lie inside the input (no padding
  // reached): the general kernels' results bit for bit. The backward ones leave uncovered rows/columns alone.
  void (*max_forward_2x2)(const Pool2dShape& s, const float* x, float* y, std::int32_t* argmax, std::int64_t r0,
                          std::int64_t r1);
  void (*avg_forward_2x2)(const Pool2dShape& s, const float* x, float* y, std::int64_t r0, std::int64_t r1);
  void (*max_backward_2x2)(const Pool2dShape& s, const std::int32_t* argmax, const float* dy, float* dx,
                           std::int64_t r0, std::int64_t r1);
  void (*avg_backward_2x2)(const Pool2dShape& s, const float* dy, float* dx, std::int64_t r0, std::int64_t r1);
  // 2x2 max with a one-byte window code per output (0..3, row-major in the window) instead of the int32 index.
  void (*max_forward_2x2_code)(const Pool2dShape& s, const float* x, float* y, std::uint8_t* code, std::int64_t r0,
                               std::int64_t r1);
    // relu_y (the pooled output, or null): dy counts only where relu_y > 0 (the relu fold of
  // ModelLayer::fold_input_relu_mask).
  void (*max_backward_2x2_code)(const Pool2dShape& s, const std::uint8_t* code, const float* dy,
                                const float* relu_y, float* dx, std::int64_t r0, std::int64_t r1);
};

const PoolKernels& pool_kernels_scalar();
#if defined(CONVLITE_HAVE_AVX2)
const PoolKernels& pool_kernels_avx2();
#endif
#if defined(CONVLITE_HAVE_AVX512)
const PoolKernels& pool_kernels_avx512();
#endif

}  // namespace convlite

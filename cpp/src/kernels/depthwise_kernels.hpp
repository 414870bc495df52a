// The depthwise family's kernel table: per-pixel kernels vectorised over channels (depthwise_<isa>.cpp,
// internal linkage; only the getters are exported). Output channel o = c * dm + m reads input channel o / dm.
#pragma once
#include <cstdint>

namespace convlite {

struct DepthwiseKernels {
  // y[o] = act(sum_t x[t][o / dm] * w[t][o] + bias[o]) for o < channels * dm; taps in order; bias may be null.
  void (*forward_pixel)(std::int64_t taps, const float* const* x, const float* const* w, const float* bias, float* y,
                        std::int64_t channels, std::int64_t dm, int activation, float negative_slope);
  // dx[c] = sum_t sum_m dz[t][c*dm + m] * w[t][c*dm + m] (overwrites dx; no taps gives zeros).
  void (*input_grad_pixel)(std::int64_t taps, const float* const* dz, const float* const* w, float* dx,
                           std::int64_t channels, std::int64_t dm);
  // dw[t][o] += x[t][o / dm] * dz[o] for every tap; db[o] += dz[o] when db is not null.
  void (*weight_grad_pixel)(std::int64_t taps, const float* const* x, float* const* dw, const float* dz, float* db,
                            std::int64_t channels, std::int64_t dm);
};

const DepthwiseKernels& depthwise_kernels_scalar();
#if defined(CONVLITE_HAVE_AVX2)
const DepthwiseKernels& depthwise_kernels_avx2();
#endif
#if defined(CONVLITE_HAVE_AVX512)
const DepthwiseKernels& depthwise_kernels_avx512();
#endif

}  // namespace convlite

// The batch-normalization family's kernel table (channels_last: x is (rows, channels), channels contiguous).
// Reductions run over a block of rows and accumulate per channel in double, row after row, so vectorising across
// channels keeps every channel's summation order: SIMD results are bit-identical to scalar. The driver splits rows
// into blocks whose size depends only on the shape and adds block partials in block order (any thread count).
#pragma once
#include <cstdint>

namespace convlite {

struct NormKernels {
  // acc[c] += sum over rows of x[r, c].
  void (*sum_rows)(std::int64_t rows, std::int64_t channels, const float* x, double* acc);
  // acc[c] += sum over rows of (x[r, c] - mean[c])^2, in double.
  void (*sum_squared_deviation)(std::int64_t rows, std::int64_t channels, const float* x, const double* mean,
                                double* acc);
  // y[r, c] = x[r, c] * scale[c] + shift[c] (float multiply, then add).
  void (*scale_shift)(std::int64_t rows, std::int64_t channels, const float* x, const float* scale,
                      const float* shift, float* y);
  // acc_dy[c] += dy; acc_dy_xc[c] += dy * (x - mean), in double.
  void (*backward_sums)(std::int64_t rows, std::int64_t channels, const float* x, const float* dy, const float* mean,
                        double* acc_dy, double* acc_dy_xc);
  // dx = scale * ((dy - mean_dy) - xhat * mean_dy_xhat), xhat = (x - mean) * inv_std, in float.
  void (*backward_dx)(std::int64_t rows, std::int64_t channels, const float* x, const float* dy, const float* mean,
                      const float* inv_std, const float* scale, const float* mean_dy, const float* mean_dy_xhat,
                      float* dx);
};

const NormKernels& norm_kernels_scalar();
#if defined(CONVLITE_HAVE_AVX2)
const NormKernels& norm_kernels_avx2();
#endif
#if defined(CONVLITE_HAVE_AVX512)
const NormKernels& norm_kernels_avx512();
#endif

}  // namespace convlite

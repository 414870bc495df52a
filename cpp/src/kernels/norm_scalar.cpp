// Scalar batch-normalization kernels: these define the semantics (and the order of every sum) the SIMD kernels
// reproduce.
#include "kernels/norm_kernels.hpp"

namespace convlite {
namespace {

void sum_rows(std::int64_t rows, std::int64_t channels, const float* x, double* acc) {
  for (std::int64_t r = 0; r < rows; ++r)
    for (std::int64_t c = 0; c < channels; ++c) acc[c] += x[r * channels + c];
}

void sum_squared_deviation(std::int64_t rows, std::int64_t channels, const float* x, const double* mean,
                           double* acc) {
  for (std::int64_t r = 0; r < rows; ++r)
    for (std::int64_t c = 0; c < channels; ++c) {
      const double d = static_cast<double>(x[r * channels + c]) - mean[c];
      acc[c] += d * d;
    }
}

void scale_shift(std::int64_t rows, std::int64_t channels, const float* x, const float* scale, const float* shift,
                 float* y) {
  for (std::int64_t r = 0; r < rows; ++r)
    for (std::int64_t c = 0; c < channels; ++c) y[r * channels + c] = x[r * channels + c] * scale[c] + shift[c];
}

void backward_sums(std::int64_t rows, std::int64_t channels, const float* x, const float* dy, const float* mean,
                   double* acc_dy, double* acc_dy_xc) {
  for (std::int64_t r = 0; r < rows; ++r)
    for (std::int64_t c = 0; c < channels; ++c) {
      const double g = dy[r * channels + c];
      acc_dy[c] += g;
      acc_dy_xc[c] += g * (static_cast<double>(x[r * channels + c]) - static_cast<double>(mean[c]));
    }
}

void backward_dx(std::int64_t rows, std::int64_t channels, const float* x, const float* dy, const float* mean,
                 const float* inv_std, const float* scale, const float* mean_dy, const float* mean_dy_xhat,
                 float* dx) {
  for (std::int64_t r = 0; r < rows; ++r)
    for (std::int64_t c = 0; c < channels; ++c) {
      const std::int64_t i = r * channels + c;
      const float xhat = (x[i] - mean[c]) * inv_std[c];
      dx[i] = scale[c] * ((dy[i] - mean_dy[c]) - xhat * mean_dy_xhat[c]);
    }
}

constexpr NormKernels kScalarTable = {&sum_rows, &sum_squared_deviation, &scale_shift, &backward_sums,
                                      &backward_dx};

}  // namespace

const NormKernels& norm_kernels_scalar() { return kScalarTable; }

}  // namespace convlite

// Scalar depthwise kernels: define the semantics (no contraction: -ffp-contract=off).
#include "kernels/depthwise_kernels.hpp"

namespace convlite {
namespace {

float activate(float v, int activation, float slope) {
  if (activation == 1) return v < 0.0f ? 0.0f : v;  // NaN stays NaN
  if (activation == 2) return v > 0.0f ? v : v * slope;
  return v;
}

void forward_pixel(std::int64_t taps, const float* const* x, const float* const* w, const float* bias, float* y,
                   std::int64_t channels, std::int64_t dm, int activation, float slope) {
  const std::int64_t cout = channels * dm;
  for (std::int64_t o = 0; o < cout; ++o) {
    float acc = 0.0f;
    for (std::int64_t t = 0; t < taps; ++t) acc += x[t][o / dm] * w[t][o];
    if (bias) acc += bias[o];
    y[o] = activate(acc, activation, slope);
  }
}

void input_grad_pixel(std::int64_t taps, const float* const* dz, const float* const* w, float* dx,
                      std::int64_t channels, std::int64_t dm) {
  for (std::int64_t c = 0; c < channels; ++c) {
    float acc = 0.0f;
    for (std::int64_t t = 0; t < taps; ++t)
      for (std::int64_t m = 0; m < dm; ++m) acc += dz[t][c * dm + m] * w[t][c * dm + m];
    dx[c] = acc;
  }
}

void weight_grad_pixel(std::int64_t taps, const float* const* x, float* const* dw, const float* dz, float* db,
                       std::int64_t channels, std::int64_t dm) {
  const std::int64_t cout = channels * dm;
  for (std::int64_t t = 0; t < taps; ++t)
    for (std::int64_t o = 0; o < cout; ++o) dw[t][o] += x[t][o / dm] * dz[o];
  if (db)
    for (std::int64_t o = 0; o < cout; ++o) db[o] += dz[o];
}

constexpr DepthwiseKernels kScalarTable = {&forward_pixel, &input_grad_pixel, &weight_grad_pixel};

}  // namespace

const DepthwiseKernels& depthwise_kernels_scalar() { return kScalarTable; }

}  // namespace convlite

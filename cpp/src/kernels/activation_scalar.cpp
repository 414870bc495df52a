// Scalar activation kernels: these define the semantics every SIMD kernel must reproduce.
#include "kernels/activation_kernels.hpp"

namespace convlite {
namespace {

// Keras's relu: the positive part (x, or x > threshold ? x : 0), clipped to [0, max_value] when given, minus
// negative_slope * relu(threshold - x). With only a slope it is TensorFlow's leaky_relu. NaN propagates.
float relu_one(float x, const ReluParams& p) {
  const bool leaky_only = p.negative_slope != 0.0f && !p.has_max_value && p.threshold == 0.0f;
  if (leaky_only) return x > 0.0f ? x : p.negative_slope * x;
  float pos = p.threshold != 0.0f ? (x > p.threshold ? x : 0.0f) : (x < 0.0f ? 0.0f : x);
  if (p.has_max_value) pos = pos < 0.0f ? 0.0f : (pos > p.max_value ? p.max_value : pos);
  if (p.negative_slope != 0.0f) {
    const float below = p.threshold - x;
    pos -= p.negative_slope * (below > 0.0f ? below : 0.0f);
  }
  return pos;
}

// The derivative TensorFlow's autodiff gives for the expression above: relu' is x > 0, relu6' is 0 < x < 6,
// clip passes the gradient where its input lies in [0, max_value] (inclusive), the threshold mask is constant.
float relu_grad_one(float x, const ReluParams& p) {
  const bool leaky_only = p.negative_slope != 0.0f && !p.has_max_value && p.threshold == 0.0f;
  if (leaky_only) return x > 0.0f ? 1.0f : p.negative_slope;
  float g;
  if (p.threshold != 0.0f) {
    g = x > p.threshold ? 1.0f : 0.0f;
    if (p.has_max_value) {
      const float pos = x > p.threshold ? x : 0.0f;
      if (!(pos >= 0.0f && pos <= p.max_value)) g = 0.0f;
    }
  } else if (p.has_max_value && p.max_value == 6.0f) {
    g = (x > 0.0f && x < 6.0f) ? 1.0f : 0.0f;
  } else {
    g = x > 0.0f ? 1.0f : 0.0f;
    if (p.has_max_value && !(x <= p.max_value)) g = 0.0f;
  }
  if (p.negative_slope != 0.0f && p.threshold - x > 0.0f) g += p.negative_slope;
  return g;
}

void relu_forward(const float* x, float* y, std::int64_t n, const ReluParams& p) {
  for (std::int64_t i = 0; i < n; ++i) y[i] = relu_one(x[i], p);
}

void relu_backward(const float* x, const float* dy, float* dx, std::int64_t n, const ReluParams& p) {
  for (std::int64_t i = 0; i < n; ++i) dx[i] = dy[i] * relu_grad_one(x[i], p);
}

constexpr ActivationKernels kScalarTable = {&relu_forward, &relu_backward};

}  // namespace

const ActivationKernels& activation_kernels_scalar() { return kScalarTable; }

}  // namespace convlite

// Scalar activation kernels: these define the semantics every SIMD kernel must reproduce.
#include <cmath>
#include <cstring>

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

void relu_forward(const float* x, float* y, std::int64_t n, const ReluParams& params) {
  // local copy of p: see activation_kernels.hpp
  const ReluParams p = params;
  for (std::int64_t i = 0; i < n; ++i) y[i] = relu_one(x[i], p);
}

void relu_backward(const float* x, const float* dy, float* dx, std::int64_t n, const ReluParams& params) {
  // local copy of p: see activation_kernels.hpp
  const ReluParams p = params;
  for (std::int64_t i = 0; i < n; ++i) dx[i] = dy[i] * relu_grad_one(x[i], p);
}

// ---- the vector vocabulary of activation_math.inc: the shared float one, plus what only activations use.
#include "kernels/vec_scalar.inc"
float bits_to_float(std::uint32_t u) {
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}
V vldexp(V y, V n) {
  const std::int32_t ni = n == n ? static_cast<std::int32_t>(n) : 0;  // NaN: y is NaN already
  const std::int32_t a = ni >> 1, b = ni - a;
  return y * bits_to_float(static_cast<std::uint32_t>(a + 127) << 23) *
         bits_to_float(static_cast<std::uint32_t>(b + 127) << 23);
}
V vpow2_of_shifted(V t) {  // the SIMD lanes' wrapping integer arithmetic, in uint32
  std::uint32_t u;
  std::memcpy(&u, &t, sizeof u);
  const std::uint32_t e = u - (0x4B400000u - 127u);
  return bits_to_float(static_cast<std::int32_t>(e) > 0 ? e << 23 : 0u);
}
V vpow2_eighths_of_shifted(const float* table, V t) {  // the SIMD lanes' permute and wrapping integer add
  std::uint32_t u, s;
  std::memcpy(&u, &t, sizeof u);
  std::memcpy(&s, &table[u & 7u], sizeof s);
  return bits_to_float(s + ((u << 20) & 0xFF800000u));
}
V vfrexp(V x, V* e) {
  std::uint32_t u;
  std::memcpy(&u, &x, sizeof u);
  *e = static_cast<float>(static_cast<std::int32_t>((u >> 23) & 0xffu) - 126);
  return bits_to_float((u & 0x807fffffu) | 0x3f000000u);
}
float vhsum(V v) { return v; }
float vhmax(V v) { return v; }

#include "kernels/activation_math.inc"

constexpr ActivationKernels kScalarTable = {&relu_forward,  &relu_backward,   &elementwise_forward,
                                            &elementwise_backward, &softmax_rows, &softmax_backward_rows};

}  // namespace

const ActivationKernels& activation_kernels_scalar() { return kScalarTable; }

}  // namespace convlite

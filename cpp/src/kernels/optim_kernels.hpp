// The optimizer family's kernel table: one fused pass per parameter tensor. One table per ISA, each in its own
// translation unit (optim_<isa>.cpp) with internal linkage; SIMD kernels perform the scalar kernel's float
// operations in the same order without contraction, so every ISA gives bit-identical parameters.
#pragma once
#include <cstdint>

namespace convlite {

struct OptimKernels {
  // m = m*momentum - g*lr; p += nesterov ? m*momentum - g*lr : m. velocity null: p -= g*lr.
  void (*sgd)(float* param, const float* grad, float* velocity, std::int64_t n, float lr, float momentum,
              bool nesterov);
  // m += (g - m)*one_minus_beta_1; v += (g*g - v)*one_minus_beta_2; [v_hat = max(v_hat, v)];
  // p -= (m*alpha) / (sqrt(v or v_hat) + epsilon), alpha = lr*sqrt(1 - beta_2^t)/(1 - beta_1^t).
  void (*adam)(float* param, const float* grad, float* m, float* v, float* v_hat, std::int64_t n, float alpha,
               float one_minus_beta_1, float one_minus_beta_2, float epsilon);
  // velocity = rho*velocity + (1-rho)*g*g; centered: avg = rho*avg + (1-rho)*g, denominator =
  // velocity - avg*avg + epsilon, else velocity + epsilon; increment = lr*g / sqrt(denominator);
  // momentum: mom = momentum*mom + increment, p -= mom; else p -= increment.
  void (*rmsprop)(float* param, const float* grad, float* velocity, float* momentum_buf, float* average_grad,
                  std::int64_t n, float lr, float rho, float one_minus_rho, float momentum, float epsilon);
  // p -= (p*weight_decay)*lr.
  void (*weight_decay)(float* param, std::int64_t n, float weight_decay, float lr);
  // Sum of squares in double with a fixed association: 16 lanes, lane j takes elements i = j (mod 16);
  // t_k = (l_k + l_{8+k}) + (l_{4+k} + l_{12+k}), result (t_0 + t_2) + (t_1 + t_3). Fits 4x4 and 2x8 lanes.
  double (*sum_of_squares)(const float* x, std::int64_t n);
  void (*scale)(float* x, std::int64_t n, float factor);
  // x = min(max(x, low), high) with NaN kept.
  void (*clip)(float* x, std::int64_t n, float low, float high);
};

const OptimKernels& optim_kernels_scalar();
#if defined(CONVLITE_HAVE_AVX2)
const OptimKernels& optim_kernels_avx2();
#endif
#if defined(CONVLITE_HAVE_AVX512)
const OptimKernels& optim_kernels_avx512();
#endif

}  // namespace convlite

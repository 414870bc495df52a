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
  // The other Keras 3 optimizers, each in Keras's operation order (constants formed by the driver, optim.cpp).
  // acc += g*g; p -= (lr*g) / sqrt(acc + epsilon).
  void (*adagrad)(float* param, const float* grad, float* accumulator, std::int64_t n, float lr, float epsilon);
  // ag = rho*ag + (1-rho)*(g*g); delta = -((sqrt(ad + epsilon)*g) / sqrt(ag + epsilon));
  // ad = rho*ad + (1-rho)*(delta*delta); p += lr*delta.
  void (*adadelta)(float* param, const float* grad, float* accumulated_grad, float* accumulated_delta,
                   std::int64_t n, float lr, float rho, float one_minus_rho, float epsilon);
  // m += (g - m)*(1-beta_1); u = max(beta_2*u, |g|) (NaN kept); p -= (lr*m) / (bias*(u + epsilon)),
  // bias = 1 - beta_1^t.
  void (*adamax)(float* param, const float* grad, float* m, float* u, std::int64_t n, float lr,
                 float one_minus_beta_1, float beta_2, float bias, float epsilon);
  // m += (g - m)*(1-beta_1); v += (g*g - v)*(1-beta_2);
  // m_hat = (u_next*m)/(1 - u_product_next) + ((1 - u_now)*g)/(1 - u_product); v_hat = v/(1 - beta_2^t);
  // p -= (m_hat*lr) / (sqrt(v_hat) + epsilon).
  void (*nadam)(float* param, const float* grad, float* m, float* v, std::int64_t n, float lr,
                float one_minus_beta_1, float one_minus_beta_2, float u_next, float one_minus_u_product_next,
                float one_minus_u_now, float one_minus_u_product, float one_minus_beta_2_power, float epsilon);
  // p -= lr*sign(m*beta_1 + g*(1-beta_1)) (sign keeps 0 and NaN); m = m*beta_2 + g*(1-beta_2).
  void (*lion)(float* param, const float* grad, float* m, std::int64_t n, float lr, float beta_1,
               float one_minus_beta_1, float beta_2, float one_minus_beta_2);
};

const OptimKernels& optim_kernels_scalar();
#if defined(CONVLITE_HAVE_AVX2)
const OptimKernels& optim_kernels_avx2();
#endif
#if defined(CONVLITE_HAVE_AVX512)
const OptimKernels& optim_kernels_avx512();
#endif

}  // namespace convlite

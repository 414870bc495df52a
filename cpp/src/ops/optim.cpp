// Optimizer drivers: pick the ISA's table, split each tensor into fixed 16 Ki-element blocks run in parallel.
// Elementwise updates are independent per element; sum_of_squares reduces per-block partials in block order, so
// every result is bit-identical for any thread count.
#include <cmath>
#include <vector>

#include "convlite/dispatch.hpp"
#include "convlite/parallel.hpp"
#include "convlite/train.hpp"
#include "kernels/optim_kernels.hpp"

namespace convlite {
namespace {

const OptimKernels& kernels() {
  switch (active_isa()) {
#if defined(CONVLITE_HAVE_AVX512)
    case Isa::avx512: return optim_kernels_avx512();
#endif
#if defined(CONVLITE_HAVE_AVX2)
    case Isa::avx2: return optim_kernels_avx2();
#endif
    default: return optim_kernels_scalar();
  }
}

constexpr std::int64_t kBlock = 16384;  // a multiple of 16 (sum_of_squares lanes) and of every vector width

// body(begin, count) over the blocks of [0, n), in parallel when the tensor is large enough to pay for it.
template <class Body>
void over_blocks(std::int64_t n, double bytes_per_element, Body&& body) {
  const std::int64_t blocks = (n + kBlock - 1) / kBlock;
  parallel_for(blocks, bytes_per_element * kBlock, [&](std::int64_t b0, std::int64_t b1) {
    const std::int64_t begin = b0 * kBlock, end = b1 * kBlock < n ? b1 * kBlock : n;
    body(begin, end - begin);
  });
}

// Keras computes `1 - beta` in Python double and then casts it to float32.
float one_minus(double x) { return static_cast<float>(1.0 - x); }

}  // namespace

void sgd_update(float* param, const float* grad, float* velocity, std::int64_t n, float learning_rate,
                float momentum, bool nesterov) {
  const auto& k = kernels();
  over_blocks(n, velocity ? 20.0 : 12.0, [&](std::int64_t b, std::int64_t c) {
    k.sgd(param + b, grad + b, velocity ? velocity + b : nullptr, c, learning_rate, momentum, nesterov);
  });
}

void adam_update(float* param, const float* grad, float* m, float* v, float* v_hat, std::int64_t n,
                 float learning_rate, double beta_1, double beta_2, float epsilon, std::int64_t step) {
  // alpha as Keras evaluates it in float32: lr * sqrt(1 - beta_2^t) / (1 - beta_1^t).
  const float t = static_cast<float>(step);
  const float beta_1_power = std::pow(static_cast<float>(beta_1), t);
  const float beta_2_power = std::pow(static_cast<float>(beta_2), t);
  const float alpha = learning_rate * std::sqrt(1.0f - beta_2_power) / (1.0f - beta_1_power);
  const float omb1 = one_minus(beta_1), omb2 = one_minus(beta_2);
  const auto& k = kernels();
  over_blocks(n, v_hat ? 36.0 : 28.0, [&](std::int64_t b, std::int64_t c) {
    k.adam(param + b, grad + b, m + b, v + b, v_hat ? v_hat + b : nullptr, c, alpha, omb1, omb2, epsilon);
  });
}

void rmsprop_update(float* param, const float* grad, float* velocity, float* momentum_buf, float* average_grad,
                    std::int64_t n, float learning_rate, double rho, float momentum, float epsilon) {
  const float omr = one_minus(rho);
  const auto& k = kernels();
  over_blocks(n, 20.0 + (momentum_buf ? 8.0 : 0.0) + (average_grad ? 8.0 : 0.0), [&](std::int64_t b, std::int64_t c) {
    k.rmsprop(param + b, grad + b, velocity + b, momentum_buf ? momentum_buf + b : nullptr,
              average_grad ? average_grad + b : nullptr, c, learning_rate, static_cast<float>(rho), omr, momentum, epsilon);
  });
}

void adagrad_update(float* param, const float* grad, float* accumulator, std::int64_t n, float learning_rate,
                    float epsilon) {
  const auto& k = kernels();
  over_blocks(n, 20.0, [&](std::int64_t b, std::int64_t c) {
    k.adagrad(param + b, grad + b, accumulator + b, c, learning_rate, epsilon);
  });
}

void adadelta_update(float* param, const float* grad, float* accumulated_grad, float* accumulated_delta,
                     std::int64_t n, float learning_rate, double rho, float epsilon) {
  const float rho_f = static_cast<float>(rho), omr = one_minus(rho);
  const auto& k = kernels();
  over_blocks(n, 28.0, [&](std::int64_t b, std::int64_t c) {
    k.adadelta(param + b, grad + b, accumulated_grad + b, accumulated_delta + b, c, learning_rate, rho_f, omr,
               epsilon);
  });
}

void adamax_update(float* param, const float* grad, float* m, float* u, std::int64_t n, float learning_rate,
                   double beta_1, double beta_2, float epsilon, std::int64_t step) {
  const float bias = 1.0f - std::pow(static_cast<float>(beta_1), static_cast<float>(step));
  const float omb1 = one_minus(beta_1), beta_2_f = static_cast<float>(beta_2);
  const auto& k = kernels();
  over_blocks(n, 28.0, [&](std::int64_t b, std::int64_t c) {
    k.adamax(param + b, grad + b, m + b, u + b, c, learning_rate, omb1, beta_2_f, bias, epsilon);
  });
}

// Nadam's momentum schedule: u_t = beta_1 * (1 - 0.5 * 0.96^t), all in float32 as Keras casts it.
static float nadam_momentum(float beta_1, std::int64_t t) {
  return beta_1 * (1.0f - 0.5f * std::pow(0.96f, static_cast<float>(t)));
}

float nadam_next_u_product(float u_product, double beta_1, std::int64_t step) {
  return (u_product * static_cast<float>(beta_1)) * (1.0f - 0.5f * std::pow(0.96f, static_cast<float>(step)));
}

void nadam_update(float* param, const float* grad, float* m, float* v, std::int64_t n, float learning_rate,
                  double beta_1, double beta_2, float epsilon, std::int64_t step, float u_product) {
  const float b1 = static_cast<float>(beta_1), b2 = static_cast<float>(beta_2);
  const float u_now = nadam_momentum(b1, step), u_next = nadam_momentum(b1, step + 1);
  const float u_product_next = u_product * u_next;
  const float beta_2_power = std::pow(b2, static_cast<float>(step));
  const auto& k = kernels();
  over_blocks(n, 28.0, [&](std::int64_t b, std::int64_t c) {
    k.nadam(param + b, grad + b, m + b, v + b, c, learning_rate, 1.0f - b1, 1.0f - b2, u_next,
            1.0f - u_product_next, 1.0f - u_now, 1.0f - u_product, 1.0f - beta_2_power, epsilon);
  });
}

void lion_update(float* param, const float* grad, float* m, std::int64_t n, float learning_rate, double beta_1,
                 double beta_2) {
  const float b1 = static_cast<float>(beta_1), b2 = static_cast<float>(beta_2);
  const auto& k = kernels();
  over_blocks(n, 20.0, [&](std::int64_t b, std::int64_t c) {
    k.lion(param + b, grad + b, m + b, c, learning_rate, b1, 1.0f - b1, b2, 1.0f - b2);
  });
}

void apply_weight_decay(float* param, std::int64_t n, float learning_rate, float weight_decay) {
  const auto& k = kernels();
  over_blocks(n, 8.0, [&](std::int64_t b, std::int64_t c) { k.weight_decay(param + b, c, weight_decay, learning_rate); });
}

double sum_of_squares(const float* x, std::int64_t n) {
  if (n <= 0) return 0.0;
  const auto& k = kernels();
  const std::int64_t blocks = (n + kBlock - 1) / kBlock;
  std::vector<double> partial(static_cast<size_t>(blocks));
  parallel_for(blocks, 4.0 * kBlock, [&](std::int64_t b0, std::int64_t b1) {
    for (std::int64_t b = b0; b < b1; ++b) {
      const std::int64_t begin = b * kBlock, end = begin + kBlock < n ? begin + kBlock : n;
      partial[b] = k.sum_of_squares(x + begin, end - begin);
    }
  });
  double total = 0.0;
  for (double p : partial) total += p;
  return total;
}

void scale_in_place(float* x, std::int64_t n, float factor) {
  const auto& k = kernels();
  over_blocks(n, 8.0, [&](std::int64_t b, std::int64_t c) { k.scale(x + b, c, factor); });
}

void clip_in_place(float* x, std::int64_t n, float low, float high) {
  const auto& k = kernels();
  over_blocks(n, 8.0, [&](std::int64_t b, std::int64_t c) { k.clip(x + b, c, low, high); });
}

}  // namespace convlite

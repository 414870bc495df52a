// Activation drivers: pick the ISA's kernel table, split the array into per-thread chunks.
#include "convlite/activation.hpp"

#include "convlite/dispatch.hpp"
#include "convlite/parallel.hpp"
#include "kernels/activation_kernels.hpp"

namespace convlite {
namespace {

const ActivationKernels& kernels() {
  switch (active_isa()) {
#if defined(CONVLITE_HAVE_AVX512)
    case Isa::avx512: return activation_kernels_avx512();
#endif
#if defined(CONVLITE_HAVE_AVX2)
    case Isa::avx2: return activation_kernels_avx2();
#endif
    // NEON (AArch64) runs the scalar kernels, which the compiler vectorises at its NEON baseline: hand-written
    // NEON kernels wait for hardware to test them on.
    default: return activation_kernels_scalar();
  }
}

// Elementwise work is split in 64-byte-aligned blocks so that no two threads share a cache line.
constexpr std::int64_t kBlock = 4096;

}  // namespace

void relu_forward(const float* x, float* y, std::int64_t n, const ReluParams& p) {
  const auto& k = kernels();
  const std::int64_t blocks = (n + kBlock - 1) / kBlock;
  parallel_for(blocks, 8.0 * kBlock, [&](std::int64_t b0, std::int64_t b1) {
    const std::int64_t begin = b0 * kBlock, end = b1 * kBlock < n ? b1 * kBlock : n;
    k.relu_forward(x + begin, y + begin, end - begin, p);
  });
}

void relu_backward(const float* x, const float* dy, float* dx, std::int64_t n, const ReluParams& p) {
  const auto& k = kernels();
  const std::int64_t blocks = (n + kBlock - 1) / kBlock;
  parallel_for(blocks, 12.0 * kBlock, [&](std::int64_t b0, std::int64_t b1) {
    const std::int64_t begin = b0 * kBlock, end = b1 * kBlock < n ? b1 * kBlock : n;
    k.relu_backward(x + begin, dy + begin, dx + begin, end - begin, p);
  });
}

}  // namespace convlite

namespace convlite {
namespace {

bool is_softmax(ActivationKind kind) {
  return kind == ActivationKind::softmax || kind == ActivationKind::log_softmax;
}

// Rough cost per element in cycles-ish units, so that cheap kinds stay serial on small arrays and
// transcendental ones go parallel earlier.
double cost_per_element(ActivationKind kind) {
  switch (kind) {
    case ActivationKind::linear: case ActivationKind::leaky_relu: case ActivationKind::relu6:
    case ActivationKind::hard_sigmoid: case ActivationKind::softsign:
      return 8.0;
    default:
      return 40.0;
  }
}

}  // namespace

bool activation_backward_needs_x(ActivationKind kind) {
  switch (kind) {
    case ActivationKind::linear: case ActivationKind::selu: case ActivationKind::sigmoid:
    case ActivationKind::tanh: case ActivationKind::exponential: case ActivationKind::softmax:
    case ActivationKind::log_softmax:
      return false;
    default:
      return true;
  }
}

bool activation_backward_needs_y(ActivationKind kind) {
  switch (kind) {
    case ActivationKind::elu: case ActivationKind::selu: case ActivationKind::sigmoid: case ActivationKind::tanh:
    case ActivationKind::exponential: case ActivationKind::softmax: case ActivationKind::log_softmax:
      return true;
    default:
      return false;
  }
}

void activation_forward(const ActivationParams& p, const float* x, float* y, std::int64_t n,
                        std::int64_t last_dim) {
  if (p.kind == ActivationKind::relu) return relu_forward(x, y, n, p.relu);
  const auto& k = kernels();
  if (is_softmax(p.kind)) {
    if (last_dim <= 0) return;
    const bool log_output = p.kind == ActivationKind::log_softmax;
    parallel_for(n / last_dim, 40.0 * static_cast<double>(last_dim), [&](std::int64_t r0, std::int64_t r1) {
      k.softmax_forward(x + r0 * last_dim, y + r0 * last_dim, r1 - r0, last_dim, log_output);
    });
    return;
  }
  const std::int64_t blocks = (n + kBlock - 1) / kBlock;
  parallel_for(blocks, cost_per_element(p.kind) * kBlock, [&](std::int64_t b0, std::int64_t b1) {
    const std::int64_t begin = b0 * kBlock, end = b1 * kBlock < n ? b1 * kBlock : n;
    k.forward(p, x + begin, y + begin, end - begin);
  });
}

void activation_backward(const ActivationParams& p, const float* x, const float* y, const float* dy, float* dx,
                         std::int64_t n, std::int64_t last_dim) {
  if (p.kind == ActivationKind::relu) return relu_backward(x, dy, dx, n, p.relu);
  const auto& k = kernels();
  if (is_softmax(p.kind)) {
    if (last_dim <= 0) return;
    const bool log_output = p.kind == ActivationKind::log_softmax;
    parallel_for(n / last_dim, 40.0 * static_cast<double>(last_dim), [&](std::int64_t r0, std::int64_t r1) {
      k.softmax_backward(y + r0 * last_dim, dy + r0 * last_dim, dx + r0 * last_dim, r1 - r0, last_dim, log_output);
    });
    return;
  }
  const std::int64_t blocks = (n + kBlock - 1) / kBlock;
  parallel_for(blocks, cost_per_element(p.kind) * kBlock, [&](std::int64_t b0, std::int64_t b1) {
    const std::int64_t begin = b0 * kBlock, end = b1 * kBlock < n ? b1 * kBlock : n;
    k.backward(p, x ? x + begin : nullptr, y ? y + begin : nullptr, dy + begin, dx + begin, end - begin);
  });
}

}  // namespace convlite

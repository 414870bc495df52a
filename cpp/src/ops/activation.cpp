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
#if defined(CONVLITE_HAVE_NEON)
    case Isa::neon: return activation_kernels_neon();
#endif
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

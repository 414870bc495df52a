// Scalar dropout kernels: Philox4x32-10 one block (four words) at a time (random.cpp's reference), then the
// masked scale.
#include "convlite/random.hpp"
#include "kernels/dropout_kernels.hpp"

namespace convlite {
namespace {

void draw_keep_mask(std::int64_t n, std::uint64_t seed, std::uint64_t first, std::uint32_t threshold,
                    std::uint8_t* mask) {
  std::uint32_t words[4];
  std::uint64_t cached = ~std::uint64_t{0};
  for (std::int64_t i = 0; i < n; ++i) {
    const std::uint64_t e = first + static_cast<std::uint64_t>(i);
    if ((e >> 2) != cached || i == 0) {
      cached = e >> 2;
      philox_stream_block(seed, cached, words);
    }
    mask[i] = (words[e & 3] >> 8) >= threshold ? 1 : 0;
  }
}

// __restrict on the mask: a uint8_t pointer may alias anything, which would block vectorisation. x and y may be
// the same array (in place).
void masked_scale(std::int64_t n, const float* x, const std::uint8_t* __restrict mask, float scale, float* y) {
  for (std::int64_t i = 0; i < n; ++i) {  // select, not branch: the mask is random
    const float kept = x[i] * scale;
    y[i] = mask[i] ? kept : 0.0f;
  }
}

constexpr DropoutKernels kScalarTable = {&draw_keep_mask, &masked_scale};

}  // namespace

const DropoutKernels& dropout_kernels_scalar() { return kScalarTable; }

}  // namespace convlite

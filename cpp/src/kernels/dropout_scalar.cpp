// Scalar dropout kernels: Philox4x32-10 one block (four words) at a time, then the masked scale.
#include "kernels/dropout_kernels.hpp"

namespace convlite {
namespace {

void philox_block(std::uint64_t block, std::uint64_t seed, std::uint32_t out[4]) {
  std::uint32_t c0 = static_cast<std::uint32_t>(block), c1 = static_cast<std::uint32_t>(block >> 32), c2 = 0, c3 = 0;
  std::uint32_t k0 = static_cast<std::uint32_t>(seed), k1 = static_cast<std::uint32_t>(seed >> 32);
  for (int round = 0; round < 10; ++round) {
    const std::uint64_t p0 = 0xD2511F53ull * c0, p1 = 0xCD9E8D57ull * c2;
    c0 = static_cast<std::uint32_t>(p1 >> 32) ^ c1 ^ k0;
    c1 = static_cast<std::uint32_t>(p1);
    c2 = static_cast<std::uint32_t>(p0 >> 32) ^ c3 ^ k1;
    c3 = static_cast<std::uint32_t>(p0);
    k0 += 0x9E3779B9u;
    k1 += 0xBB67AE85u;
  }
  out[0] = c0, out[1] = c1, out[2] = c2, out[3] = c3;
}

void draw_keep_mask(std::int64_t n, std::uint64_t seed, std::uint64_t first, std::uint32_t threshold,
                    std::uint8_t* mask) {
  std::uint32_t words[4];
  std::uint64_t cached = ~std::uint64_t{0};
  for (std::int64_t i = 0; i < n; ++i) {
    const std::uint64_t e = first + static_cast<std::uint64_t>(i);
    if ((e >> 2) != cached || i == 0) {
      cached = e >> 2;
      philox_block(cached, seed, words);
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

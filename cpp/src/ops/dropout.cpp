// Dropout drivers. Element i of a call draws stream word (offset + i) of `seed` (convlite/random.hpp), so the mask
// depends only on (seed, offset, i): identical for any thread count or ISA. Kept units are scaled by 1 / (1 - rate).
#include <cmath>

#include "convlite/dispatch.hpp"
#include "convlite/parallel.hpp"
#include "convlite/train.hpp"
#include "kernels/dropout_kernels.hpp"

namespace convlite {
namespace {

const DropoutKernels& kernels() {
  switch (active_isa()) {
#if defined(CONVLITE_HAVE_AVX2)
    case Isa::avx512:  // AVX-512 CPUs run the AVX2 table (see dropout_kernels.hpp)
    case Isa::avx2: return dropout_kernels_avx2();
#endif
    default: return dropout_kernels_scalar();
  }
}

// Elements per work item: the mask bytes and the floats of a block stay in L1/L2 between drawing and scaling, and
// small blocks split evenly (MNIST's 64x1600 = 50 blocks; 16384 split 7 blocks 3 + 3.25 across two threads).
constexpr std::int64_t kBlock = 2048;

// Cost of drawing one element's keep bit, in parallel_for's units (about a byte of memory traffic each): the
// Philox rounds take ~1 ns per element on one AVX2 core, the time a copy moves ~30 bytes. (At 20, MNIST's 100K
// elements counted under the 2 MB that buys a second thread once the blocks were made small.)
constexpr double kDrawCost = 40.0;

// keep iff (word >> 8) * 2^-24 >= rate  <=>  (word >> 8) >= ceil(rate * 2^24); exact in double.
std::uint32_t keep_threshold(float rate) {
  if (!(rate > 0.0f)) return 0;
  if (rate >= 1.0f) return 1u << 24;
  return static_cast<std::uint32_t>(std::ceil(static_cast<double>(rate) * 16777216.0));
}

float keep_scale(float rate) { return rate < 1.0f ? 1.0f / (1.0f - rate) : 0.0f; }

template <class Body>
void over_blocks(std::int64_t n, double cost, Body&& body) {
  const std::int64_t blocks = (n + kBlock - 1) / kBlock;
  parallel_for(blocks, cost * kBlock, [&](std::int64_t b0, std::int64_t b1) {
    for (std::int64_t b = b0; b < b1; ++b) {
      const std::int64_t begin = b * kBlock, end = begin + kBlock < n ? begin + kBlock : n;
      body(begin, end - begin);
    }
  });
}

}  // namespace

void dropout_forward(std::int64_t n, float rate, std::uint64_t seed, std::uint64_t offset, const float* x, float* y,
                     std::uint8_t* mask) {
  const auto& k = kernels();
  const std::uint32_t threshold = keep_threshold(rate);
  const float scale = keep_scale(rate);
  over_blocks(n, kDrawCost, [&](std::int64_t begin, std::int64_t count) {
    k.draw_keep_mask(count, seed, offset + static_cast<std::uint64_t>(begin), threshold, mask + begin);
    k.masked_scale(count, x + begin, mask + begin, scale, y + begin);
  });
}

void dropout_backward(std::int64_t n, float rate, const std::uint8_t* mask, const float* dy, float* dx) {
  const auto& k = kernels();
  const float scale = keep_scale(rate);
  over_blocks(n, 9.0, [&](std::int64_t begin, std::int64_t count) {
    k.masked_scale(count, dy + begin, mask + begin, scale, dx + begin);
  });
}

namespace {

// Rows (batch * spatial) of `channels` values, each row scaled by its sample's mask row.
void spatial_masked_scale(std::int64_t batch, std::int64_t spatial, std::int64_t channels, const std::uint8_t* mask,
                          float scale, const float* x, float* y) {
  const auto& k = kernels();
  const std::int64_t rows = batch * spatial;
  parallel_for(rows, 9.0 * static_cast<double>(channels), [&](std::int64_t r0, std::int64_t r1) {
    for (std::int64_t r = r0; r < r1; ++r)
      k.masked_scale(channels, x + r * channels, mask + (r / spatial) * channels, scale, y + r * channels);
  });
}

}  // namespace

void spatial_dropout_forward(std::int64_t batch, std::int64_t spatial, std::int64_t channels, float rate,
                             std::uint64_t seed, std::uint64_t offset, const float* x, float* y, std::uint8_t* mask) {
  if (batch <= 0 || channels <= 0) return;
  kernels().draw_keep_mask(batch * channels, seed, offset, keep_threshold(rate), mask);
  if (spatial > 0) spatial_masked_scale(batch, spatial, channels, mask, keep_scale(rate), x, y);
}

void spatial_dropout_backward(std::int64_t batch, std::int64_t spatial, std::int64_t channels, float rate,
                              const std::uint8_t* mask, const float* dy, float* dx) {
  if (batch <= 0 || channels <= 0 || spatial <= 0) return;
  spatial_masked_scale(batch, spatial, channels, mask, keep_scale(rate), dy, dx);
}

}  // namespace convlite

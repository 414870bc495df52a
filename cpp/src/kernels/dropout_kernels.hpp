// The dropout family's kernel table. The random stream is Philox4x32-10 as defined in convlite/random.hpp; each
// kernel file carries its own copy of the rounds (no inline code shared across ISA files). AVX-512 machines use
// the AVX2 table: the 8-lane Philox already outruns memory for the mask and the masked copy.
#pragma once
#include <cstdint>

namespace convlite {

struct DropoutKernels {
  // mask[i] = 1 if (word(first + i) >> 8) >= threshold else 0, word() the stream of `seed`; threshold is
  // ceil(rate * 2^24), so this is exactly uniform >= rate.
  void (*draw_keep_mask)(std::int64_t n, std::uint64_t seed, std::uint64_t first, std::uint32_t threshold,
                         std::uint8_t* mask);
  // y[i] = mask[i] ? x[i] * scale : 0.
  void (*masked_scale)(std::int64_t n, const float* x, const std::uint8_t* mask, float scale, float* y);
};

const DropoutKernels& dropout_kernels_scalar();
#if defined(CONVLITE_HAVE_AVX2)
const DropoutKernels& dropout_kernels_avx2();
#endif

}  // namespace convlite

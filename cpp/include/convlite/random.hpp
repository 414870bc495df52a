// Counter-based random numbers: Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3",
// SC 2011; the generator of Random123, cuRAND and TensorFlow's stateless ops). No state: the value at a counter
// depends only on (seed, counter), so any partition of the work across threads or SIMD lanes yields the same
// numbers.
//
// convlite's element stream: element e of seed s is word (e mod 4) of Philox4x32-10 with key (lo32(s), hi32(s))
// applied to the counter block (lo32(e / 4), hi32(e / 4), 0, 0). Dropout keeps element i of a call with
// (seed, offset) iff (word(offset + i) >> 8) * 2^-24 >= rate.
#pragma once
#include <cstdint>

namespace convlite {

// One Philox4x32-10 block: out = philox(counter, key).
void philox4x32_10(const std::uint32_t counter[4], const std::uint32_t key[2], std::uint32_t out[4]);

// The four words of block `block` (elements 4*block .. 4*block + 3) of the stream for `seed`. Out of line and
// compiled at baseline, so kernel files of any ISA may call it (the AVX2 dropout kernel for its head and tail).
void philox_stream_block(std::uint64_t seed, std::uint64_t block, std::uint32_t out[4]);

// Word `element` of the stream for `seed` (see above).
std::uint32_t random_uint32(std::uint64_t seed, std::uint64_t element);

// Uniform float in [0, 1) with 24 random bits: (random_uint32 >> 8) * 2^-24.
float random_uniform(std::uint64_t seed, std::uint64_t element);

}  // namespace convlite

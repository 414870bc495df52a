// AVX2 dropout kernels: Philox4x32-10 on 16 counter blocks at once (two interleaved 8-lane chains, 64 stream
// words), transposed back to element order; the masked scale 8 floats a step. Integer-exact, so identical to the scalar kernels.
#include <immintrin.h>

#include "convlite/random.hpp"
#include "kernels/dropout_kernels.hpp"

namespace convlite {
namespace {

// 32x32 -> 64 products of 8 lanes by a constant, split into low and high 32-bit halves.
inline void mulhilo(__m256i a, __m256i m, __m256i* lo, __m256i* hi) {
  const __m256i even = _mm256_mul_epu32(a, m);                         // lanes 0, 2, 4, 6
  const __m256i odd = _mm256_mul_epu32(_mm256_srli_epi64(a, 32), m);  // lanes 1, 3, 5, 7
  *lo = _mm256_blend_epi32(even, _mm256_slli_epi64(odd, 32), 0xAA);
  *hi = _mm256_blend_epi32(_mm256_srli_epi64(even, 32), odd, 0xAA);
}

// 0/1 keep bytes for the 32 stream words of blocks first_block .. first_block + 7, in element order, from the
// Philox output words c0..c3 (lane j = block j).
void store_keep_bytes(__m256i c0, __m256i c1, __m256i c2, __m256i c3, __m256i threshold_minus_1, std::uint8_t* out) {
  // Per 128-bit half a 4x4 transpose gives block rows [b0|b4], [b1|b5], [b2|b6], [b3|b7]; permute2x128 orders them.
  const __m256i t0 = _mm256_unpacklo_epi32(c0, c1), t1 = _mm256_unpackhi_epi32(c0, c1);
  const __m256i t2 = _mm256_unpacklo_epi32(c2, c3), t3 = _mm256_unpackhi_epi32(c2, c3);
  const __m256i r0 = _mm256_unpacklo_epi64(t0, t2), r1 = _mm256_unpackhi_epi64(t0, t2);
  const __m256i r2 = _mm256_unpacklo_epi64(t1, t3), r3 = _mm256_unpackhi_epi64(t1, t3);
  __m256i w[4] = {_mm256_permute2x128_si256(r0, r1, 0x20), _mm256_permute2x128_si256(r2, r3, 0x20),
                  _mm256_permute2x128_si256(r0, r1, 0x31), _mm256_permute2x128_si256(r2, r3, 0x31)};
  for (auto& v : w) v = _mm256_cmpgt_epi32(_mm256_srli_epi32(v, 8), threshold_minus_1);  // -1 keep, 0 drop
  const __m256i p01 = _mm256_packs_epi32(w[0], w[1]), p23 = _mm256_packs_epi32(w[2], w[3]);
  __m256i bytes = _mm256_packs_epi16(p01, p23);
  bytes = _mm256_permutevar8x32_epi32(bytes, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(out), _mm256_and_si256(bytes, _mm256_set1_epi8(1)));
}

// Blocks first_block .. first_block + 15 (64 stream words) as two independent 8-lane Philox chains, interleaved so
// the multiplies of one hide the latency of the other.
void keep_bytes_16_blocks(std::uint64_t first_block, std::uint64_t seed, __m256i threshold_minus_1,
                          std::uint8_t* out) {
  const __m256i lane = _mm256_setr_epi64x(0, 1, 2, 3);
  // Counters as 64-bit lanes (4 per vector), split into low and high words: b + j for j = 0..15, carries included.
  __m256i lo[2], hi[2];
  for (int h = 0; h < 2; ++h) {
    const __m256i b0 = _mm256_add_epi64(_mm256_set1_epi64x(static_cast<long long>(first_block + 8 * h)), lane);
    const __m256i b1 = _mm256_add_epi64(b0, _mm256_set1_epi64x(4));
    // even 32-bit elements hold the low words, odd ones the high words; gather lows and highs into 8 lanes
    const __m256i idx = _mm256_setr_epi32(0, 2, 4, 6, 1, 3, 5, 7);
    const __m256i p0 = _mm256_permutevar8x32_epi32(b0, idx), p1 = _mm256_permutevar8x32_epi32(b1, idx);
    lo[h] = _mm256_permute2x128_si256(p0, p1, 0x20);
    hi[h] = _mm256_permute2x128_si256(p0, p1, 0x31);
  }
  __m256i a0 = lo[0], a1 = hi[0], a2 = _mm256_setzero_si256(), a3 = a2;
  __m256i b0 = lo[1], b1 = hi[1], b2 = a2, b3 = a2;
  std::uint32_t k0 = static_cast<std::uint32_t>(seed), k1 = static_cast<std::uint32_t>(seed >> 32);
  const __m256i m0 = _mm256_set1_epi32(static_cast<int>(0xD2511F53u));
  const __m256i m1 = _mm256_set1_epi32(static_cast<int>(0xCD9E8D57u));
  for (int round = 0; round < 10; ++round) {
    const __m256i key0 = _mm256_set1_epi32(static_cast<int>(k0)), key1 = _mm256_set1_epi32(static_cast<int>(k1));
    __m256i alo0, ahi0, alo1, ahi1, blo0, bhi0, blo1, bhi1;
    mulhilo(a0, m0, &alo0, &ahi0);
    mulhilo(b0, m0, &blo0, &bhi0);
    mulhilo(a2, m1, &alo1, &ahi1);
    mulhilo(b2, m1, &blo1, &bhi1);
    a0 = _mm256_xor_si256(_mm256_xor_si256(ahi1, a1), key0);
    b0 = _mm256_xor_si256(_mm256_xor_si256(bhi1, b1), key0);
    a1 = alo1;
    b1 = blo1;
    a2 = _mm256_xor_si256(_mm256_xor_si256(ahi0, a3), key1);
    b2 = _mm256_xor_si256(_mm256_xor_si256(bhi0, b3), key1);
    a3 = alo0;
    b3 = blo0;
    k0 += 0x9E3779B9u;
    k1 += 0xBB67AE85u;
  }
  store_keep_bytes(a0, a1, a2, a3, threshold_minus_1, out);
  store_keep_bytes(b0, b1, b2, b3, threshold_minus_1, out + 32);
}

void draw_keep_mask(std::int64_t n, std::uint64_t seed, std::uint64_t first, std::uint32_t threshold,
                    std::uint8_t* mask) {
  std::int64_t i = 0;
  std::uint32_t words[4];
  // Head: up to the next multiple of 4 in the stream, so the vector body starts on a block boundary.
  if (((first) & 3) != 0) {
    philox_stream_block(seed, first >> 2, words);
    for (; i < n && ((first + static_cast<std::uint64_t>(i)) & 3) != 0; ++i)
      mask[i] = (words[(first + static_cast<std::uint64_t>(i)) & 3] >> 8) >= threshold ? 1 : 0;
  }
  const __m256i t = _mm256_set1_epi32(static_cast<int>(threshold) - 1);  // threshold <= 2^24: no overflow
  for (; i + 64 <= n; i += 64) keep_bytes_16_blocks((first + static_cast<std::uint64_t>(i)) >> 2, seed, t, mask + i);
  for (; i < n; ++i) {
    const std::uint64_t e = first + static_cast<std::uint64_t>(i);
    if ((e & 3) == 0 || i == 0) philox_stream_block(seed, e >> 2, words);
    mask[i] = (words[e & 3] >> 8) >= threshold ? 1 : 0;
  }
}

void masked_scale(std::int64_t n, const float* x, const std::uint8_t* mask, float scale, float* y) {
  const __m256 s = _mm256_set1_ps(scale);
  const __m256i zero = _mm256_setzero_si256();
  std::int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m128i m8 = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(mask + i));
    const __m256i dropped = _mm256_cmpeq_epi32(_mm256_cvtepu8_epi32(m8), zero);
    const __m256 v = _mm256_mul_ps(_mm256_loadu_ps(x + i), s);
    _mm256_storeu_ps(y + i, _mm256_andnot_ps(_mm256_castsi256_ps(dropped), v));
  }
  for (; i < n; ++i) y[i] = mask[i] ? x[i] * scale : 0.0f;
}

constexpr DropoutKernels kAvx2Table = {&draw_keep_mask, &masked_scale};

}  // namespace

const DropoutKernels& dropout_kernels_avx2() { return kAvx2Table; }

}  // namespace convlite

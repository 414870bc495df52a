// AVX2 pooling kernels: 8 channels a step; a partial last vector uses masked loads and stores.
#include <immintrin.h>

#include <cstring>

#include "kernels/pool_kernels.hpp"

namespace convlite {
namespace {

#include "kernels/vec_avx2.inc"
using I = __m256i;
I isplat(std::int32_t i) { return _mm256_set1_epi32(i); }
I iload_part(const std::int32_t* p, int k) {
  return k == kWidth ? _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p))
                     : _mm256_maskload_epi32(p, part_mask(k));
}
void istore_part(std::int32_t* p, I v, int k) {
  if (k == kWidth) _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), v);
  else _mm256_maskstore_epi32(p, part_mask(k), v);
}
I isel(M m, I a, I b) { return _mm256_castps_si256(_mm256_blendv_ps(_mm256_castsi256_ps(b), _mm256_castsi256_ps(a), m)); }
M ieq(I a, I b) { return _mm256_castsi256_ps(_mm256_cmpeq_epi32(a, b)); }

// Window codes (0..3) as int32 lanes <-> bytes. Partial vectors go through a small buffer (byte-masked accesses
// do not exist on AVX2); loads past the k wanted bytes would be outside the row's codes.
I cload_part(const std::uint8_t* p, int k) {
  if (k == kWidth) return _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p)));
  std::uint8_t part[kWidth] = {};
  std::memcpy(part, p, static_cast<std::size_t>(k));
  return _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(part)));
}
void cstore_part(std::uint8_t* p, I v, int k) {
  const __m128i words = _mm_packs_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  const __m128i bytes = _mm_packus_epi16(words, words);
  if (k == kWidth) {
    _mm_storel_epi64(reinterpret_cast<__m128i*>(p), bytes);
    return;
  }
  std::uint8_t part[16];
  _mm_storeu_si128(reinterpret_cast<__m128i*>(part), bytes);
  std::memcpy(p, part, static_cast<std::size_t>(k));
}
I window_code(M m1, M m2, M m3) {
  return isel(m3, isplat(3), isel(m2, isplat(2), isel(m1, isplat(1), isplat(0))));
}
V keep_if_code(I where, int j, V g) { return _mm256_and_ps(ieq(where, isplat(j)), g); }
// Four whole vectors of codes (4 * kWidth bytes) with one pack sequence.
void cstore4(std::uint8_t* p, I a, I b, I c, I d) {
  const __m256i bytes = _mm256_packus_epi16(_mm256_packs_epi32(a, b), _mm256_packs_epi32(c, d));
  // Per 128-bit half the bytes run a0-3 b0-3 c0-3 d0-3 | a4-7 b4-7 c4-7 d4-7: gather each vector's two quarters.
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(p),
                      _mm256_permutevar8x32_epi32(bytes, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7)));
}
#include "kernels/pool_math.inc"

constexpr PoolKernels kTable = {&max_pool_forward,   &avg_pool_forward,   &max_pool_backward_disjoint,
                                &avg_pool_backward,  &global_avg_forward, &global_max_forward,
                                &max_pool_forward_2x2, &avg_pool_forward_2x2, &max_pool_backward_2x2,
                                &avg_pool_backward_2x2, &max_pool_forward_2x2_code,   &max_pool_backward_2x2_code};

}  // namespace

const PoolKernels& pool_kernels_avx2() { return kTable; }

}  // namespace convlite

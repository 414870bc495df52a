// AVX-512 pooling kernels: 16 channels a step, masked tails. Opt-in until tested on AVX-512 hardware (DESIGN.md).
// GCC 12's AVX-512 headers trip -Wuninitialized on their own `__m512 __Y = __Y;` idiom (GCC bug 105593).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif
#include <immintrin.h>

#include "kernels/pool_kernels.hpp"

namespace convlite {
namespace {

#include "kernels/vec_avx512.inc"
using I = __m512i;
I isplat(std::int32_t i) { return _mm512_set1_epi32(i); }
I iload_part(const std::int32_t* p, int k) { return _mm512_maskz_loadu_epi32(part_mask(k), p); }
void istore_part(std::int32_t* p, I v, int k) { _mm512_mask_storeu_epi32(p, part_mask(k), v); }
I isel(M m, I a, I b) { return _mm512_mask_blend_epi32(m, b, a); }
M ieq(I a, I b) { return _mm512_cmpeq_epi32_mask(a, b); }

I cload_part(const std::uint8_t* p, int k) { return _mm512_cvtepu8_epi32(_mm_maskz_loadu_epi8(part_mask(k), p)); }
void cstore_part(std::uint8_t* p, I v, int k) { _mm512_mask_cvtepi32_storeu_epi8(p, part_mask(k), v); }
I window_code(M m1, M m2, M m3) {
  return isel(m3, isplat(3), isel(m2, isplat(2), isel(m1, isplat(1), isplat(0))));
}
V keep_if_code(I where, int j, V g) { return _mm512_maskz_mov_ps(ieq(where, isplat(j)), g); }
void cstore4(std::uint8_t* p, I a, I b, I c, I d) {
  _mm_storeu_si128(reinterpret_cast<__m128i*>(p), _mm512_cvtepi32_epi8(a));
  _mm_storeu_si128(reinterpret_cast<__m128i*>(p + kWidth), _mm512_cvtepi32_epi8(b));
  _mm_storeu_si128(reinterpret_cast<__m128i*>(p + 2 * kWidth), _mm512_cvtepi32_epi8(c));
  _mm_storeu_si128(reinterpret_cast<__m128i*>(p + 3 * kWidth), _mm512_cvtepi32_epi8(d));
}

#include "kernels/pool_math.inc"

constexpr PoolKernels kTable = {&max_pool_forward,   &avg_pool_forward,   &max_pool_backward_disjoint,
                                &avg_pool_backward,  &global_avg_forward, &global_max_forward,
                                &max_pool_forward_2x2, &avg_pool_forward_2x2, &max_pool_backward_2x2,
                                &avg_pool_backward_2x2, &max_pool_forward_2x2_code,   &max_pool_backward_2x2_code};

}  // namespace

const PoolKernels& pool_kernels_avx512() { return kTable; }

}  // namespace convlite

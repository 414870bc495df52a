// AVX-512 pooling kernels: 16 channels a step, masked tails. Opt-in until tested on AVX-512 hardware (DESIGN.md).
// GCC 12's AVX-512 headers trip -Wuninitialized on their own `__m512 __Y = __Y;` idiom (GCC bug 105593).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif
#include <immintrin.h>

#include "kernels/pool_kernels.hpp"

namespace convlite {
namespace {

constexpr int kWidth = 16;
using V = __m512;
using M = __mmask16;
using I = __m512i;
__mmask16 part_mask(int k) { return static_cast<__mmask16>((1u << k) - 1u); }
V vset(float a) { return _mm512_set1_ps(a); }
V vload_part(const float* p, int k) { return _mm512_maskz_loadu_ps(part_mask(k), p); }
void vstore_part(float* p, V v, int k) { _mm512_mask_storeu_ps(p, part_mask(k), v); }
V vadd(V a, V b) { return _mm512_add_ps(a, b); }
V vdiv(V a, V b) { return _mm512_div_ps(a, b); }
M vgt(V a, V b) { return _mm512_cmp_ps_mask(a, b, _CMP_GT_OQ); }
V vmax(V a, V b) { return _mm512_max_ps(a, b); }  // a > b ? a : b, NaN in either -> b
V vsel(M m, V a, V b) { return _mm512_mask_blend_ps(m, b, a); }
I isplat(std::int32_t i) { return _mm512_set1_epi32(i); }
I iload_part(const std::int32_t* p, int k) { return _mm512_maskz_loadu_epi32(part_mask(k), p); }
void istore_part(std::int32_t* p, I v, int k) { _mm512_mask_storeu_epi32(p, part_mask(k), v); }
I isel(M m, I a, I b) { return _mm512_mask_blend_epi32(m, b, a); }
M ieq(I a, I b) { return _mm512_cmpeq_epi32_mask(a, b); }

#include "kernels/pool_math.inc"

constexpr PoolKernels kTable = {&max_pool_forward,   &avg_pool_forward,   &max_pool_backward_disjoint,
                                &avg_pool_backward,  &global_avg_forward, &global_max_forward,
                                &max_pool_forward_2x2, &avg_pool_forward_2x2, &max_pool_backward_2x2,
                                &avg_pool_backward_2x2};

}  // namespace

const PoolKernels& pool_kernels_avx512() { return kTable; }

}  // namespace convlite

// AVX-512 depthwise kernels: 16 channels a vector, masked tails. Opt-in until tested on AVX-512 hardware
// (DESIGN.md). GCC 12's AVX-512 headers trip -Wuninitialized on their own `__m512 __Y = __Y;` idiom (GCC bug 105593).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif
#include <immintrin.h>

#include "kernels/depthwise_kernels.hpp"

namespace convlite {
namespace {

constexpr int kWidth = 16;
using V = __m512;
using M = __mmask16;
__mmask16 part_mask(int k) { return static_cast<__mmask16>((1u << k) - 1u); }
V vset(float a) { return _mm512_set1_ps(a); }
V vload(const float* p) { return _mm512_loadu_ps(p); }
void vstore(float* p, V v) { _mm512_storeu_ps(p, v); }
V vload_part(const float* p, int k) { return _mm512_maskz_loadu_ps(part_mask(k), p); }
void vstore_part(float* p, V v, int k) { _mm512_mask_storeu_ps(p, part_mask(k), v); }
V vadd(V a, V b) { return _mm512_add_ps(a, b); }
V vmul(V a, V b) { return _mm512_mul_ps(a, b); }
V vfma(V a, V b, V c) { return _mm512_fmadd_ps(a, b, c); }
V vmax(V a, V b) { return _mm512_max_ps(a, b); }  // a > b ? a : b, as the vocabulary says (NaN in b passes)
M vgt(V a, V b) { return _mm512_cmp_ps_mask(a, b, _CMP_GT_OQ); }
V vsel(M m, V a, V b) { return _mm512_mask_blend_ps(m, b, a); }

#include "kernels/depthwise_math.inc"

}  // namespace

const DepthwiseKernels& depthwise_kernels_avx512() { return kTable; }

}  // namespace convlite

// AVX2+FMA depthwise kernels: 8 channels a vector, 8 pixels (or 8 taps) a tile; a partial last vector uses masked
// loads and stores.
#include <immintrin.h>

#include "kernels/depthwise_kernels.hpp"

namespace convlite {
namespace {

constexpr int kWidth = 8;
using V = __m256;
using M = __m256;
__m256i part_mask(int k) { return _mm256_cmpgt_epi32(_mm256_set1_epi32(k), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7)); }
V vset(float a) { return _mm256_set1_ps(a); }
V vload(const float* p) { return _mm256_loadu_ps(p); }
void vstore(float* p, V v) { _mm256_storeu_ps(p, v); }
V vload_part(const float* p, int k) { return _mm256_maskload_ps(p, part_mask(k)); }
void vstore_part(float* p, V v, int k) { _mm256_maskstore_ps(p, part_mask(k), v); }
V vadd(V a, V b) { return _mm256_add_ps(a, b); }
V vmul(V a, V b) { return _mm256_mul_ps(a, b); }
V vfma(V a, V b, V c) { return _mm256_fmadd_ps(a, b, c); }
V vmax(V a, V b) { return _mm256_max_ps(a, b); }  // a > b ? a : b, as the vocabulary says (NaN in b passes)
M vgt(V a, V b) { return _mm256_cmp_ps(a, b, _CMP_GT_OQ); }
V vsel(M m, V a, V b) { return _mm256_blendv_ps(b, a, m); }

#include "kernels/depthwise_math.inc"

}  // namespace

const DepthwiseKernels& depthwise_kernels_avx2() { return kTable; }

}  // namespace convlite

// AVX2 pooling kernels: 8 channels a step; a partial last vector uses masked loads and stores.
#include <immintrin.h>

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

#include "kernels/pool_math.inc"

constexpr PoolKernels kTable = {&max_pool_forward,   &avg_pool_forward,   &max_pool_backward_disjoint,
                                &avg_pool_backward,  &global_avg_forward, &global_max_forward,
                                &max_pool_forward_2x2, &avg_pool_forward_2x2, &max_pool_backward_2x2,
                                &avg_pool_backward_2x2};

}  // namespace

const PoolKernels& pool_kernels_avx2() { return kTable; }

}  // namespace convlite

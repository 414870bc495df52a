// AVX2 batch-normalization kernels: 8 channels a step (two 4-wide double accumulators per block for the sums).
// The loops live in norm_math.inc; this file supplies the 256-bit vocabulary.
#include <immintrin.h>

#include "kernels/norm_kernels.hpp"

namespace convlite {
namespace {

constexpr int kWidth = 8;
using VF = __m256;
using VD = __m256d;
VF fload(const float* p) { return _mm256_loadu_ps(p); }
void fstore(float* p, VF v) { _mm256_storeu_ps(p, v); }
VF fset(float a) { return _mm256_set1_ps(a); }
VF fadd(VF a, VF b) { return _mm256_add_ps(a, b); }
VF fsub(VF a, VF b) { return _mm256_sub_ps(a, b); }
VF fmul(VF a, VF b) { return _mm256_mul_ps(a, b); }
VD dload(const double* p) { return _mm256_loadu_pd(p); }
void dstore(double* p, VD v) { _mm256_storeu_pd(p, v); }
VD dadd(VD a, VD b) { return _mm256_add_pd(a, b); }
VD dsub(VD a, VD b) { return _mm256_sub_pd(a, b); }
VD dmul(VD a, VD b) { return _mm256_mul_pd(a, b); }
VD lo(VF v) { return _mm256_cvtps_pd(_mm256_castps256_ps128(v)); }
VD hi(VF v) { return _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1)); }

#include "kernels/norm_math.inc"

}  // namespace

const NormKernels& norm_kernels_avx2() { return kTable; }

}  // namespace convlite

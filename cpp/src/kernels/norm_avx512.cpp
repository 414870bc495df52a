// AVX-512 batch-normalization kernels: 16 channels a step (two 8-wide double accumulators per block for the sums).
// The loops live in norm_math.inc; this file supplies the 512-bit vocabulary.
// Not chosen by default until tested on AVX-512 hardware (DESIGN.md); CONVLITE_ISA=avx512 opts in.
#include <immintrin.h>

#include "kernels/norm_kernels.hpp"

// GCC 12 reports the _mm512_undefined_* placeholder inside _mm512_cvtps_pd / _mm512_extractf64x4_pd as
// uninitialized once they are inlined into the multi-block loops (a false positive: those lanes are never read).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

namespace convlite {
namespace {

constexpr int kWidth = 16;
using VF = __m512;
using VD = __m512d;
VF fload(const float* p) { return _mm512_loadu_ps(p); }
void fstore(float* p, VF v) { _mm512_storeu_ps(p, v); }
VF fset(float a) { return _mm512_set1_ps(a); }
VF fadd(VF a, VF b) { return _mm512_add_ps(a, b); }
VF fsub(VF a, VF b) { return _mm512_sub_ps(a, b); }
VF fmul(VF a, VF b) { return _mm512_mul_ps(a, b); }
VD dload(const double* p) { return _mm512_loadu_pd(p); }
void dstore(double* p, VD v) { _mm512_storeu_pd(p, v); }
VD dadd(VD a, VD b) { return _mm512_add_pd(a, b); }
VD dsub(VD a, VD b) { return _mm512_sub_pd(a, b); }
VD dmul(VD a, VD b) { return _mm512_mul_pd(a, b); }
VD lo(VF v) { return _mm512_cvtps_pd(_mm512_castps512_ps256(v)); }
VD hi(VF v) { return _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1))); }

#include "kernels/norm_math.inc"

}  // namespace

const NormKernels& norm_kernels_avx512() { return kTable; }

}  // namespace convlite

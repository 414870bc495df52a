// AVX-512 activation kernels: 16 floats a step; the tail uses a masked load/store of the same vector code.
// Not chosen by default until tested on AVX-512 hardware (DESIGN.md); CONVLITE_ISA=avx512 opts in.
// fp-contract off for the same reason as in activation_avx2.cpp: the only FMAs are the explicit ones.
#if defined(__clang__)
#pragma clang fp contract(off)
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif
// GCC 12's AVX-512 headers trip -Wuninitialized on their own `__m512 __Y = __Y;` idiom (GCC bug 105593).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif
#include <immintrin.h>

#include <cmath>

#include "kernels/activation_kernels.hpp"

namespace convlite {
namespace {

bool leaky_only(const ReluParams& p) {
  return p.negative_slope != 0.0f && !p.has_max_value && p.threshold == 0.0f;
}

__m512 relu_vec(__m512 x, const ReluParams& p) {
  const __m512 zero = _mm512_setzero_ps();
  if (leaky_only(p)) {
    const __mmask16 positive = _mm512_cmp_ps_mask(x, zero, _CMP_GT_OQ);
    return _mm512_mask_blend_ps(positive, _mm512_mul_ps(_mm512_set1_ps(p.negative_slope), x), x);
  }
  const __m512 thr = _mm512_set1_ps(p.threshold);
  __m512 pos = p.threshold != 0.0f ? _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(x, thr, _CMP_GT_OQ), x)
                                   : _mm512_max_ps(zero, x);
  if (p.has_max_value) pos = _mm512_min_ps(_mm512_set1_ps(p.max_value), _mm512_max_ps(zero, pos));
  if (p.negative_slope != 0.0f) {
    const __m512 below = _mm512_max_ps(_mm512_sub_ps(thr, x), zero);
    pos = _mm512_sub_ps(pos, _mm512_mul_ps(_mm512_set1_ps(p.negative_slope), below));
  }
  return pos;
}

__m512 relu_grad_vec(__m512 x, const ReluParams& p) {
  const __m512 zero = _mm512_setzero_ps(), one = _mm512_set1_ps(1.0f);
  const __m512 slope = _mm512_set1_ps(p.negative_slope);
  if (leaky_only(p)) return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(x, zero, _CMP_GT_OQ), slope, one);
  const __m512 thr = _mm512_set1_ps(p.threshold), maxv = _mm512_set1_ps(p.max_value);
  __mmask16 on;
  if (p.threshold != 0.0f) {
    on = _mm512_cmp_ps_mask(x, thr, _CMP_GT_OQ);
    if (p.has_max_value) {
      const __m512 pos = _mm512_maskz_mov_ps(on, x);
      on &= _mm512_cmp_ps_mask(pos, zero, _CMP_GE_OQ) & _mm512_cmp_ps_mask(pos, maxv, _CMP_LE_OQ);
    }
  } else if (p.has_max_value && p.max_value == 6.0f) {
    on = _mm512_cmp_ps_mask(x, zero, _CMP_GT_OQ) & _mm512_cmp_ps_mask(x, maxv, _CMP_LT_OQ);
  } else {
    on = _mm512_cmp_ps_mask(x, zero, _CMP_GT_OQ);
    if (p.has_max_value) on &= _mm512_cmp_ps_mask(x, maxv, _CMP_LE_OQ);
  }
  __m512 g = _mm512_maskz_mov_ps(on, one);
  if (p.negative_slope != 0.0f)
    g = _mm512_add_ps(g, _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(_mm512_sub_ps(thr, x), zero, _CMP_GT_OQ), slope));
  return g;
}

void relu_forward(const float* x, float* y, std::int64_t n, const ReluParams& params) {
  // local copy of p: see activation_kernels.hpp
  const ReluParams p = params;
  std::int64_t i = 0;
  for (; i + 16 <= n; i += 16) _mm512_storeu_ps(y + i, relu_vec(_mm512_loadu_ps(x + i), p));
  if (i < n) {
    const __mmask16 m = static_cast<__mmask16>((1u << (n - i)) - 1u);
    _mm512_mask_storeu_ps(y + i, m, relu_vec(_mm512_maskz_loadu_ps(m, x + i), p));
  }
}

void relu_backward(const float* x, const float* dy, float* dx, std::int64_t n, const ReluParams& params) {
  // local copy of p: see activation_kernels.hpp
  const ReluParams p = params;
  std::int64_t i = 0;
  for (; i + 16 <= n; i += 16)
    _mm512_storeu_ps(dx + i, _mm512_mul_ps(_mm512_loadu_ps(dy + i), relu_grad_vec(_mm512_loadu_ps(x + i), p)));
  if (i < n) {
    const __mmask16 m = static_cast<__mmask16>((1u << (n - i)) - 1u);
    const __m512 g = relu_grad_vec(_mm512_maskz_loadu_ps(m, x + i), p);
    _mm512_mask_storeu_ps(dx + i, m, _mm512_mul_ps(_mm512_maskz_loadu_ps(m, dy + i), g));
  }
}

// ---- the vector vocabulary of activation_math.inc: the shared float one, plus what only activations use.
#include "kernels/vec_avx512.inc"
V vldexp(V y, V n) {
  const __m512i ni = _mm512_cvtps_epi32(n);
  const __m512i a = _mm512_srai_epi32(ni, 1), b = _mm512_sub_epi32(ni, a);
  const __m512i bias = _mm512_set1_epi32(127);
  const V pa = _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_add_epi32(a, bias), 23));
  const V pb = _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_add_epi32(b, bias), 23));
  return _mm512_mul_ps(_mm512_mul_ps(y, pa), pb);
}
V vpow2_of_shifted(V t) {
  const __m512i e = _mm512_max_epi32(_mm512_sub_epi32(_mm512_castps_si512(t), _mm512_set1_epi32(0x4B400000 - 127)),
                                     _mm512_setzero_si512());
  return _mm512_castsi512_ps(_mm512_slli_epi32(e, 23));
}
V vpow2_eighths_of_shifted(const float* table, V t) {  // the index's low 4 bits pick from the table twice over
  const __m512i u = _mm512_castps_si512(t);
  const V twice = _mm512_broadcast_f32x8(_mm256_loadu_ps(table));
  const __m512i s = _mm512_castps_si512(_mm512_permutexvar_ps(u, twice));
  const __m512i e = _mm512_and_si512(_mm512_slli_epi32(u, 20), _mm512_set1_epi32(static_cast<int>(0xFF800000u)));
  return _mm512_castsi512_ps(_mm512_add_epi32(s, e));
}
V vfrexp(V x, V* e) {
  const __m512i u = _mm512_castps_si512(x);
  const __m512i exponent = _mm512_and_si512(_mm512_srli_epi32(u, 23), _mm512_set1_epi32(0xff));
  *e = _mm512_cvtepi32_ps(_mm512_sub_epi32(exponent, _mm512_set1_epi32(126)));
  const __m512i m = _mm512_or_si512(_mm512_and_si512(u, _mm512_set1_epi32(static_cast<int>(0x807fffffu))),
                                    _mm512_set1_epi32(0x3f000000));
  return _mm512_castsi512_ps(m);
}
float vhsum(V v) { return _mm512_reduce_add_ps(v); }
float vhmax(V v) { return _mm512_reduce_max_ps(v); }

#include "kernels/activation_math.inc"

constexpr ActivationKernels kAvx512Table = {&relu_forward,  &relu_backward,   &elementwise_forward,
                                            &elementwise_backward, &softmax_rows, &softmax_backward_rows};

}  // namespace

const ActivationKernels& activation_kernels_avx512() { return kAvx512Table; }

}  // namespace convlite

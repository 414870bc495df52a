// AVX-512 activation kernels: 16 floats a step; the tail uses a masked load/store of the same vector code.
// Not chosen by default until tested on AVX-512 hardware (DESIGN.md); CONVLITE_ISA=avx512 opts in.
#include <immintrin.h>

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

void relu_forward(const float* x, float* y, std::int64_t n, const ReluParams& p) {
  std::int64_t i = 0;
  for (; i + 16 <= n; i += 16) _mm512_storeu_ps(y + i, relu_vec(_mm512_loadu_ps(x + i), p));
  if (i < n) {
    const __mmask16 m = static_cast<__mmask16>((1u << (n - i)) - 1u);
    _mm512_mask_storeu_ps(y + i, m, relu_vec(_mm512_maskz_loadu_ps(m, x + i), p));
  }
}

void relu_backward(const float* x, const float* dy, float* dx, std::int64_t n, const ReluParams& p) {
  std::int64_t i = 0;
  for (; i + 16 <= n; i += 16)
    _mm512_storeu_ps(dx + i, _mm512_mul_ps(_mm512_loadu_ps(dy + i), relu_grad_vec(_mm512_loadu_ps(x + i), p)));
  if (i < n) {
    const __mmask16 m = static_cast<__mmask16>((1u << (n - i)) - 1u);
    const __m512 g = relu_grad_vec(_mm512_maskz_loadu_ps(m, x + i), p);
    _mm512_mask_storeu_ps(dx + i, m, _mm512_mul_ps(_mm512_maskz_loadu_ps(m, dy + i), g));
  }
}

constexpr ActivationKernels kAvx512Table = {&relu_forward, &relu_backward};

}  // namespace

const ActivationKernels& activation_kernels_avx512() { return kAvx512Table; }

}  // namespace convlite

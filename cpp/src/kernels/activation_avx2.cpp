// AVX2 activation kernels: 8 floats a step, then the scalar tail with the same operations in the same order
// (mul and sub kept separate, never fused, so results match the scalar kernel bit for bit).
// GCC contracts a*b + c into an FMA across statements by default (-ffp-contract=fast), intrinsics included: turn
// that off for this file so the only FMAs are the explicit ones, exactly as in the scalar kernels.
#if defined(__clang__)
#pragma clang fp contract(off)
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif
#include <immintrin.h>

#include <cmath>

#include "kernels/activation_kernels.hpp"

namespace convlite {
namespace {

bool leaky_only(const ReluParams& p) {
  return p.negative_slope != 0.0f && !p.has_max_value && p.threshold == 0.0f;
}

// Plain max(x, 0): no slope, no cap, no threshold.
bool plain(const ReluParams& p) { return p.negative_slope == 0.0f && !p.has_max_value && p.threshold == 0.0f; }

__m256 relu_vec(__m256 x, const ReluParams& p) {
  const __m256 zero = _mm256_setzero_ps();
  if (leaky_only(p))
    return _mm256_blendv_ps(_mm256_mul_ps(_mm256_set1_ps(p.negative_slope), x), x,
                            _mm256_cmp_ps(x, zero, _CMP_GT_OQ));
  const __m256 thr = _mm256_set1_ps(p.threshold);
  // max_ps(a, b) returns b when either is NaN: max(zero, x) keeps a NaN x, as the scalar kernel does.
  __m256 pos = p.threshold != 0.0f ? _mm256_and_ps(x, _mm256_cmp_ps(x, thr, _CMP_GT_OQ)) : _mm256_max_ps(zero, x);
  if (p.has_max_value) pos = _mm256_min_ps(_mm256_set1_ps(p.max_value), _mm256_max_ps(zero, pos));
  if (p.negative_slope != 0.0f) {
    const __m256 below = _mm256_max_ps(_mm256_sub_ps(thr, x), zero);  // NaN -> 0, as `below > 0 ? below : 0`
    pos = _mm256_sub_ps(pos, _mm256_mul_ps(_mm256_set1_ps(p.negative_slope), below));
  }
  return pos;
}

__m256 relu_grad_vec(__m256 x, const ReluParams& p) {
  const __m256 zero = _mm256_setzero_ps(), one = _mm256_set1_ps(1.0f);
  const __m256 slope = _mm256_set1_ps(p.negative_slope);
  if (leaky_only(p)) return _mm256_blendv_ps(slope, one, _mm256_cmp_ps(x, zero, _CMP_GT_OQ));
  const __m256 thr = _mm256_set1_ps(p.threshold), maxv = _mm256_set1_ps(p.max_value);
  __m256 g;
  if (p.threshold != 0.0f) {
    const __m256 above = _mm256_cmp_ps(x, thr, _CMP_GT_OQ);
    g = _mm256_and_ps(one, above);
    if (p.has_max_value) {
      const __m256 pos = _mm256_and_ps(x, above);
      const __m256 in_range = _mm256_and_ps(_mm256_cmp_ps(pos, zero, _CMP_GE_OQ), _mm256_cmp_ps(pos, maxv, _CMP_LE_OQ));
      g = _mm256_and_ps(g, in_range);
    }
  } else if (p.has_max_value && p.max_value == 6.0f) {
    g = _mm256_and_ps(one, _mm256_and_ps(_mm256_cmp_ps(x, zero, _CMP_GT_OQ), _mm256_cmp_ps(x, maxv, _CMP_LT_OQ)));
  } else {
    g = _mm256_and_ps(one, _mm256_cmp_ps(x, zero, _CMP_GT_OQ));
    if (p.has_max_value) g = _mm256_and_ps(g, _mm256_cmp_ps(x, maxv, _CMP_LE_OQ));
  }
  if (p.negative_slope != 0.0f)
    g = _mm256_add_ps(g, _mm256_and_ps(slope, _mm256_cmp_ps(_mm256_sub_ps(thr, x), zero, _CMP_GT_OQ)));
  return g;
}

// Tails: the same vector code on a zero-padded copy, so the tail cannot drift from the body.
void relu_forward(const float* x, float* y, std::int64_t n, const ReluParams& params) {
  // local copy of p: see activation_kernels.hpp
  const ReluParams p = params;
  std::int64_t i = 0;
  if (plain(p)) {  // relu_vec's plain case, spelled out so the loop is a load, a max and a store
    const __m256 zero = _mm256_setzero_ps();
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, _mm256_max_ps(zero, _mm256_loadu_ps(x + i)));
  }
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, relu_vec(_mm256_loadu_ps(x + i), p));
  if (i < n) {
    const int rest = static_cast<int>(n - i);
    alignas(32) float in[8] = {0}, out[8];
    for (int j = 0; j < rest; ++j) in[j] = x[i + j];
    _mm256_store_ps(out, relu_vec(_mm256_load_ps(in), p));
    for (int j = 0; j < rest; ++j) y[i + j] = out[j];
  }
}

void relu_backward(const float* x, const float* dy, float* dx, std::int64_t n, const ReluParams& params) {
  // local copy of p: see activation_kernels.hpp
  const ReluParams p = params;
  std::int64_t i = 0;
  if (plain(p)) {  // relu_grad_vec's plain case: dy * (x > 0 ? 1 : 0), the same operations
    const __m256 zero = _mm256_setzero_ps(), one = _mm256_set1_ps(1.0f);
    for (; i + 8 <= n; i += 8) {
      const __m256 g = _mm256_and_ps(one, _mm256_cmp_ps(_mm256_loadu_ps(x + i), zero, _CMP_GT_OQ));
      _mm256_storeu_ps(dx + i, _mm256_mul_ps(_mm256_loadu_ps(dy + i), g));
    }
  }
  for (; i + 8 <= n; i += 8)
    _mm256_storeu_ps(dx + i, _mm256_mul_ps(_mm256_loadu_ps(dy + i), relu_grad_vec(_mm256_loadu_ps(x + i), p)));
  if (i < n) {
    const int rest = static_cast<int>(n - i);
    alignas(32) float in[8] = {0}, grad_in[8] = {0}, out[8];
    for (int j = 0; j < rest; ++j) in[j] = x[i + j], grad_in[j] = dy[i + j];
    _mm256_store_ps(out, _mm256_mul_ps(_mm256_load_ps(grad_in), relu_grad_vec(_mm256_load_ps(in), p)));
    for (int j = 0; j < rest; ++j) dx[i + j] = out[j];
  }
}

// ---- the vector vocabulary of activation_math.inc: the shared float one, plus what only activations use.
#include "kernels/vec_avx2.inc"
V vldexp(V y, V n) {
  const __m256i ni = _mm256_cvtps_epi32(n);
  const __m256i a = _mm256_srai_epi32(ni, 1), b = _mm256_sub_epi32(ni, a);
  const __m256i bias = _mm256_set1_epi32(127);
  const V pa = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(a, bias), 23));
  const V pb = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(b, bias), 23));
  return _mm256_mul_ps(_mm256_mul_ps(y, pa), pb);
}
V vpow2_of_shifted(V t) {  // NaN t gives some finite scale: the product is NaN already
  const __m256i e = _mm256_max_epi32(_mm256_sub_epi32(_mm256_castps_si256(t), _mm256_set1_epi32(0x4B400000 - 127)),
                                     _mm256_setzero_si256());
  return _mm256_castsi256_ps(_mm256_slli_epi32(e, 23));
}
V vpow2_eighths_of_shifted(const float* table, V t) {  // vpermps reads the index's low 3 bits: n mod 8
  const __m256i u = _mm256_castps_si256(t);
  const __m256i s = _mm256_castps_si256(_mm256_permutevar8x32_ps(_mm256_loadu_ps(table), u));
  const __m256i e = _mm256_and_si256(_mm256_slli_epi32(u, 20), _mm256_set1_epi32(static_cast<int>(0xFF800000u)));
  return _mm256_castsi256_ps(_mm256_add_epi32(s, e));
}
V vfrexp(V x, V* e) {
  const __m256i u = _mm256_castps_si256(x);
  const __m256i exponent = _mm256_and_si256(_mm256_srli_epi32(u, 23), _mm256_set1_epi32(0xff));
  *e = _mm256_cvtepi32_ps(_mm256_sub_epi32(exponent, _mm256_set1_epi32(126)));
  const __m256i m = _mm256_or_si256(_mm256_and_si256(u, _mm256_set1_epi32(static_cast<int>(0x807fffffu))),
                                    _mm256_set1_epi32(0x3f000000));
  return _mm256_castsi256_ps(m);
}
float vhsum(V v) {
  const __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  const __m128 s2 = _mm_add_ps(s, _mm_movehl_ps(s, s));
  return _mm_cvtss_f32(_mm_add_ss(s2, _mm_shuffle_ps(s2, s2, 1)));
}
float vhmax(V v) {
  const __m128 s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  const __m128 s2 = _mm_max_ps(s, _mm_movehl_ps(s, s));
  return _mm_cvtss_f32(_mm_max_ss(s2, _mm_shuffle_ps(s2, s2, 1)));
}

#include "kernels/activation_math.inc"

constexpr ActivationKernels kAvx2Table = {&relu_forward,  &relu_backward,   &elementwise_forward,
                                          &elementwise_backward, &softmax_rows, &softmax_backward_rows};

}  // namespace

const ActivationKernels& activation_kernels_avx2() { return kAvx2Table; }

}  // namespace convlite

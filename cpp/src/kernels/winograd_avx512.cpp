// AVX-512 Winograd F(2x2, 3x3) transforms (F(4x4, 3x3): winograd4_math.inc): 16 channels a step, the tail through
// masked loads/stores of the same vector code; additions in the scalar file's order. Opt-in with the rest of the
// AVX-512 tier (DESIGN.md).
// GCC 12's AVX-512 headers trip -Wuninitialized on their own `__m512 __Y = __Y;` idiom (GCC bug 105593).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif
#include <immintrin.h>

#include "kernels/winograd_kernels.hpp"

namespace convlite {
namespace {

__mmask16 tail_mask(std::int64_t n) { return static_cast<__mmask16>((1u << n) - 1u); }  // 0 < n < 16

__m512 activate(__m512 v, int activation, __m512 slope) {
  const __m512 zero = _mm512_setzero_ps();
  if (activation == 1) return _mm512_max_ps(zero, v);  // max(0, NaN) is NaN
  if (activation == 2)
    return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(v, zero, _CMP_GT_OQ), _mm512_mul_ps(v, slope), v);
  return v;
}

void input_step(const float* const* d, std::int64_t k, __mmask16 mask, float* v, std::int64_t v_stride) {
  __m512 r[16];
  for (int i = 0; i < 4; ++i) {
    __m512 x[4];
    for (int j = 0; j < 4; ++j) x[j] = _mm512_maskz_loadu_ps(mask, d[i * 4 + j] + k);
    r[i * 4 + 0] = _mm512_sub_ps(x[0], x[2]);
    r[i * 4 + 1] = _mm512_add_ps(x[1], x[2]);
    r[i * 4 + 2] = _mm512_sub_ps(x[2], x[1]);
    r[i * 4 + 3] = _mm512_sub_ps(x[1], x[3]);
  }
  for (int j = 0; j < 4; ++j) {
    const __m512 out[4] = {_mm512_sub_ps(r[0 + j], r[8 + j]), _mm512_add_ps(r[4 + j], r[8 + j]),
                           _mm512_sub_ps(r[8 + j], r[4 + j]), _mm512_sub_ps(r[4 + j], r[12 + j])};
    for (int i = 0; i < 4; ++i) _mm512_mask_storeu_ps(v + (i * 4 + j) * v_stride + k, mask, out[i]);
  }
}

void input_tile(const float* const* d, std::int64_t channels, float* v, std::int64_t v_stride) {
  std::int64_t k = 0;
  for (; k + 16 <= channels; k += 16) input_step(d, k, 0xFFFF, v, v_stride);
  if (k < channels) input_step(d, k, tail_mask(channels - k), v, v_stride);
}

void output_step(const float* m, std::int64_t m_stride, std::int64_t f, __mmask16 mask, const float* bias,
                 float* const* y, int activation, __m512 slope) {
  __m512 s[8];
  for (int i = 0; i < 4; ++i) {
    __m512 x[4];
    for (int j = 0; j < 4; ++j) x[j] = _mm512_maskz_loadu_ps(mask, m + (i * 4 + j) * m_stride + f);
    s[i * 2 + 0] = _mm512_add_ps(_mm512_add_ps(x[0], x[1]), x[2]);
    s[i * 2 + 1] = _mm512_sub_ps(_mm512_sub_ps(x[1], x[2]), x[3]);
  }
  const __m512 b = bias ? _mm512_maskz_loadu_ps(mask, bias + f) : _mm512_setzero_ps();
  for (int j = 0; j < 2; ++j) {
    const __m512 o[2] = {_mm512_add_ps(_mm512_add_ps(s[0 + j], s[2 + j]), s[4 + j]),
                         _mm512_sub_ps(_mm512_sub_ps(s[2 + j], s[4 + j]), s[6 + j])};
    for (int a = 0; a < 2; ++a) {
      float* dst = y[a * 2 + j];
      if (!dst) continue;
      const __m512 val = activate(bias ? _mm512_add_ps(o[a], b) : o[a], activation, slope);
      _mm512_mask_storeu_ps(dst + f, mask, val);
    }
  }
}

void output_tile(const float* m, std::int64_t m_stride, std::int64_t n, const float* bias, float* const* y,
                 int activation, float negative_slope) {
  const __m512 slope = _mm512_set1_ps(negative_slope);
  std::int64_t f = 0;
  for (; f + 16 <= n; f += 16) output_step(m, m_stride, f, 0xFFFF, bias, y, activation, slope);
  if (f < n) output_step(m, m_stride, f, tail_mask(n - f), bias, y, activation, slope);
}

#include "kernels/vec_avx512.inc"

#include "kernels/winograd4_math.inc"

constexpr WinogradKernels kAvx512Table = {&input_tile, &output_tile, &input_tile4, &output_tile4};

}  // namespace

const WinogradKernels& winograd_kernels_avx512() { return kAvx512Table; }

}  // namespace convlite

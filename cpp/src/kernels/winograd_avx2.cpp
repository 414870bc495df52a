// AVX2 Winograd F(2x2, 3x3) transforms (F(4x4, 3x3): winograd4_math.inc): 8 channels a step, the tail through masked
// loads of the same vector code. Additions in the scalar file's order, so results match it bit for bit. No masked
// stores: vmaskmovps stores are microcoded and slow on AMD (a 12-filter layer ran 2x slower than a 16-filter one); the
// transformed input's rows are padded, so its tail is stored whole (zeros past the channels), and an output tail goes
// through a small buffer.
#include <immintrin.h>

#include "kernels/winograd_kernels.hpp"

namespace convlite {
namespace {

#include "kernels/epilogue_avx2.inc"

// One 8-channel column of the input transform; `full` selects plain or masked memory access.
template <bool full>
void input_step(const float* const* d, std::int64_t k, __m256i mask, float* v, std::int64_t v_stride) {
  __m256 r[16];
  for (int i = 0; i < 4; ++i) {
    __m256 x[4];
    for (int j = 0; j < 4; ++j)
      x[j] = full ? _mm256_loadu_ps(d[i * 4 + j] + k) : _mm256_maskload_ps(d[i * 4 + j] + k, mask);
    r[i * 4 + 0] = _mm256_sub_ps(x[0], x[2]);
    r[i * 4 + 1] = _mm256_add_ps(x[1], x[2]);
    r[i * 4 + 2] = _mm256_sub_ps(x[2], x[1]);
    r[i * 4 + 3] = _mm256_sub_ps(x[1], x[3]);
  }
  for (int j = 0; j < 4; ++j) {
    const __m256 out[4] = {_mm256_sub_ps(r[0 + j], r[8 + j]), _mm256_add_ps(r[4 + j], r[8 + j]),
                           _mm256_sub_ps(r[8 + j], r[4 + j]), _mm256_sub_ps(r[4 + j], r[12 + j])};
    for (int i = 0; i < 4; ++i) _mm256_storeu_ps(v + (i * 4 + j) * v_stride + k, out[i]);
  }
}

void input_tile(const float* const* d, std::int64_t channels, float* v, std::int64_t v_stride) {
  std::int64_t k = 0;
  for (; k + 8 <= channels; k += 8) input_step<true>(d, k, __m256i{}, v, v_stride);
  if (k < channels) input_step<false>(d, k, tail_mask(channels - k), v, v_stride);
}

template <bool full>
void output_step(const float* m, std::int64_t m_stride, std::int64_t f, std::int64_t n_tail, __m256i mask,
                 const float* bias, float* const* y, int activation, __m256 slope) {
  __m256 s[8];
  for (int i = 0; i < 4; ++i) {
    __m256 x[4];
    for (int j = 0; j < 4; ++j) {
      const float* src = m + (i * 4 + j) * m_stride + f;
      x[j] = full ? _mm256_loadu_ps(src) : _mm256_maskload_ps(src, mask);
    }
    s[i * 2 + 0] = _mm256_add_ps(_mm256_add_ps(x[0], x[1]), x[2]);
    s[i * 2 + 1] = _mm256_sub_ps(_mm256_sub_ps(x[1], x[2]), x[3]);
  }
  __m256 b = _mm256_setzero_ps();
  if (bias) b = full ? _mm256_loadu_ps(bias + f) : _mm256_maskload_ps(bias + f, mask);
  for (int j = 0; j < 2; ++j) {
    __m256 o[2] = {_mm256_add_ps(_mm256_add_ps(s[0 + j], s[2 + j]), s[4 + j]),
                   _mm256_sub_ps(_mm256_sub_ps(s[2 + j], s[4 + j]), s[6 + j])};
    for (int a = 0; a < 2; ++a) {
      float* dst = y[a * 2 + j];
      if (!dst) continue;
      __m256 val = bias ? _mm256_add_ps(o[a], b) : o[a];
      val = activate(val, activation, slope);
      if (full) {
        _mm256_storeu_ps(dst + f, val);
      } else {
        alignas(32) float tmp[8];
        _mm256_store_ps(tmp, val);
        for (std::int64_t q = 0; q < n_tail; ++q) dst[f + q] = tmp[q];
      }
    }
  }
}

void output_tile(const float* m, std::int64_t m_stride, std::int64_t n, const float* bias, float* const* y,
                 int activation, float negative_slope) {
  const __m256 slope = _mm256_set1_ps(negative_slope);
  std::int64_t f = 0;
  for (; f + 8 <= n; f += 8) output_step<true>(m, m_stride, f, 8, __m256i{}, bias, y, activation, slope);
  if (f < n) output_step<false>(m, m_stride, f, n - f, tail_mask(n - f), bias, y, activation, slope);
}

#include "kernels/vec_avx2.inc"

#include "kernels/winograd4_math.inc"

constexpr WinogradKernels kAvx2Table = {&input_tile, &output_tile, &input_tile4, &output_tile4};

}  // namespace

const WinogradKernels& winograd_kernels_avx2() { return kAvx2Table; }

}  // namespace convlite

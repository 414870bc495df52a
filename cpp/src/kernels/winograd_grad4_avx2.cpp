// AVX2+FMA F(4x4, 3x3) transforms of the Winograd weight gradient: the scalar file's operations (explicit fma
// included) lane by lane, 8 channels (input) or 8 filters (gradient) at a time, so the results are bit-identical.
#include <immintrin.h>

#include "kernels/winograd_grad_kernels.hpp"

namespace convlite {
namespace {

__m256i tail_mask(std::int64_t n) {  // lanes < n set
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(n)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

__attribute__((always_inline)) inline void input_1d(const __m256 d[6], __m256 v[6]) {
  const __m256 four = _mm256_set1_ps(4.0f), minus4 = _mm256_set1_ps(-4.0f), minus5 = _mm256_set1_ps(-5.0f);
  const __m256 t0 = _mm256_fmadd_ps(minus4, d[2], d[4]), t1 = _mm256_fmadd_ps(minus4, d[1], d[3]);
  const __m256 t2 = _mm256_sub_ps(d[4], d[2]);
  const __m256 t3 = _mm256_mul_ps(_mm256_set1_ps(2.0f), _mm256_sub_ps(d[3], d[1]));
  v[0] = _mm256_fmadd_ps(minus5, d[2], _mm256_fmadd_ps(four, d[0], d[4]));
  v[1] = _mm256_add_ps(t0, t1);
  v[2] = _mm256_sub_ps(t0, t1);
  v[3] = _mm256_add_ps(t2, t3);
  v[4] = _mm256_sub_ps(t2, t3);
  v[5] = _mm256_fmadd_ps(minus5, d[3], _mm256_fmadd_ps(four, d[1], d[5]));
}

__attribute__((always_inline)) inline void grad_1d(const __m256 g[4], __m256 m[6]) {
  const __m256 four = _mm256_set1_ps(4.0f);
  const __m256 even = _mm256_add_ps(g[0], g[2]), odd = _mm256_add_ps(g[1], g[3]);
  const __m256 even4 = _mm256_fmadd_ps(four, g[2], g[0]);
  const __m256 odd4 = _mm256_mul_ps(_mm256_set1_ps(2.0f), _mm256_fmadd_ps(four, g[3], g[1]));
  m[0] = g[0];
  m[1] = _mm256_add_ps(even, odd);
  m[2] = _mm256_sub_ps(even, odd);
  m[3] = _mm256_add_ps(even4, odd4);
  m[4] = _mm256_sub_ps(even4, odd4);
  m[5] = g[3];
}

}  // namespace

void winograd_input_tile6_avx2(const float* const* d, std::int64_t channels, float* v, std::int64_t v_stride) {
  for (std::int64_t k = 0; k < channels; k += 8) {
    const bool full = k + 8 <= channels;
    const __m256i lanes = tail_mask(channels - k);
    __m256 rows[36];
    for (int i = 0; i < 6; ++i) {
      __m256 in[6];
      for (int j = 0; j < 6; ++j)
        in[j] = full ? _mm256_loadu_ps(d[i * 6 + j] + k) : _mm256_maskload_ps(d[i * 6 + j] + k, lanes);
      input_1d(in, rows + i * 6);
    }
    for (int j = 0; j < 6; ++j) {
      const __m256 col[6] = {rows[j], rows[6 + j], rows[12 + j], rows[18 + j], rows[24 + j], rows[30 + j]};
      __m256 out[6];
      input_1d(col, out);
      for (int i = 0; i < 6; ++i) _mm256_storeu_ps(v + (i * 6 + j) * v_stride + k, out[i]);  // within the padding
    }
  }
}

void winograd_grad_tile6_avx2(const float* const* dz, std::int64_t n, std::int64_t n_padded, float* dm,
                              std::int64_t dm_stride) {
  for (std::int64_t f = 0; f < n_padded; f += 8) {
    if (f >= n) {  // padding lanes: zeros, as the scalar kernel
      for (int e = 0; e < 36; ++e) _mm256_storeu_ps(dm + e * dm_stride + f, _mm256_setzero_ps());
      continue;
    }
    const bool full = f + 8 <= n;
    const __m256i lanes = tail_mask(n - f);
    __m256 rows[24];
    for (int a = 0; a < 4; ++a) {
      __m256 g[4];
      for (int b = 0; b < 4; ++b) {
        const float* p = dz[a * 4 + b];
        g[b] = !p ? _mm256_setzero_ps() : full ? _mm256_loadu_ps(p + f) : _mm256_maskload_ps(p + f, lanes);
      }
      grad_1d(g, rows + a * 6);
    }
    for (int j = 0; j < 6; ++j) {
      const __m256 col[4] = {rows[j], rows[6 + j], rows[12 + j], rows[18 + j]};
      __m256 out[6];
      grad_1d(col, out);
      for (int i = 0; i < 6; ++i) _mm256_storeu_ps(dm + (i * 6 + j) * dm_stride + f, out[i]);
    }
  }
}

}  // namespace convlite

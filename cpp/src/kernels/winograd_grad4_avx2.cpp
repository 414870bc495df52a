// AVX2+FMA F(4x4, 3x3) gradient transforms (dM = A dY A^T and the input gradient's P = B dV B^T): the scalar file's
// operations (explicit fma included) lane by lane, 8 filters or channels at a time, so the results are bit-identical.
#include <immintrin.h>

#include "kernels/winograd_grad_kernels.hpp"

namespace convlite {
namespace {

#include "kernels/epilogue_avx2.inc"

__attribute__((always_inline)) inline void grad_1d(const __m256 g[4], __m256 m[6]) {
  const __m256 even = _mm256_add_ps(g[0], g[2]), odd = _mm256_add_ps(g[1], g[3]);
  const __m256 quarter = _mm256_fmadd_ps(_mm256_set1_ps(0.25f), g[2], g[0]);
  const __m256 eighth = _mm256_mul_ps(_mm256_set1_ps(0.5f), _mm256_fmadd_ps(_mm256_set1_ps(0.25f), g[3], g[1]));
  const __m256 four = _mm256_fmadd_ps(_mm256_set1_ps(4.0f), g[2], g[0]);
  const __m256 eight = _mm256_mul_ps(_mm256_set1_ps(2.0f), _mm256_fmadd_ps(_mm256_set1_ps(4.0f), g[3], g[1]));
  m[0] = g[0];
  m[1] = _mm256_add_ps(even, odd);
  m[2] = _mm256_sub_ps(even, odd);
  m[3] = _mm256_add_ps(quarter, eighth);
  m[4] = _mm256_sub_ps(four, eight);
  m[5] = g[3];
}

// d = B r (winograd_grad4_scalar.cpp's dx_1d). Negation flips the sign bit, as the scalar unary minus.
__attribute__((always_inline)) inline void dx_1d(const __m256 r[6], __m256 d[6]) {
  const __m256 sign = _mm256_set1_ps(-0.0f);
  const __m256 s = _mm256_add_ps(r[1], r[2]), t = _mm256_sub_ps(r[1], r[2]);
  const __m256 d1 = _mm256_fmadd_ps(_mm256_set1_ps(-1.5f), r[0],
                                    _mm256_fmadd_ps(_mm256_set1_ps(2.0f), _mm256_add_ps(s, r[3]),
                                                    _mm256_add_ps(r[4], r[5])));
  const __m256 d4 = _mm256_fmadd_ps(_mm256_set1_ps(1.5f), r[5],
                                    _mm256_fmadd_ps(_mm256_set1_ps(2.0f), _mm256_sub_ps(r[4], t),
                                                    _mm256_sub_ps(r[0], r[3])));
  d[0] = r[0];
  d[1] = d1;
  d[2] = _mm256_xor_ps(sign, _mm256_fmadd_ps(_mm256_set1_ps(3.0f), s, _mm256_add_ps(r[0], d4)));
  d[3] = _mm256_xor_ps(sign, _mm256_fmadd_ps(_mm256_set1_ps(3.0f), t, _mm256_add_ps(r[5], d1)));
  d[4] = d4;
  d[5] = r[5];
}

}  // namespace

void winograd_dx_tile6_avx2(const float* dv, std::int64_t dv_stride, std::int64_t n, float* const* dx,
                            std::uint64_t accumulate) {
  for (std::int64_t c = 0; c < n; c += 8) {
    __m256 cols[36];
    for (int j = 0; j < 6; ++j) {
      __m256 r[6], d[6];
      for (int i = 0; i < 6; ++i) r[i] = _mm256_loadu_ps(dv + (i * 6 + j) * dv_stride + c);  // rows padded
      dx_1d(r, d);
      for (int a = 0; a < 6; ++a) cols[a * 6 + j] = d[a];
    }
    const std::int64_t live = n - c;
    for (int a = 0; a < 6; ++a) {
      __m256 d[6];
      dx_1d(cols + a * 6, d);
      for (int b = 0; b < 6; ++b) {
        float* dst = dx[a * 6 + b];
        if (!dst) continue;
        const bool add = (accumulate >> (a * 6 + b)) & 1u;
        if (live >= 8) {
          _mm256_storeu_ps(dst + c, add ? _mm256_add_ps(_mm256_loadu_ps(dst + c), d[b]) : d[b]);
        } else {  // a partial vector through a buffer: masked stores are microcoded and slow on AMD
          alignas(32) float tmp[8];
          _mm256_store_ps(tmp, d[b]);
          for (std::int64_t q = 0; q < live; ++q) dst[c + q] = add ? dst[c + q] + tmp[q] : tmp[q];
        }
      }
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

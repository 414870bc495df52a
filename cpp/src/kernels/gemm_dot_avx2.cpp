// AVX2+FMA row-by-row dot products (GemmKernels::dot_rows) for narrow dense layers: few columns, long k, both
// operands read along k in place. Kept apart from gemm_avx2.cpp's microkernels; its table points here.
#include <immintrin.h>

#include <algorithm>

#include "kernels/gemm_kernels.hpp"

namespace convlite {
namespace {

float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  return _mm_cvtss_f32(_mm_add_ss(s, _mm_movehdup_ps(s)));
}

alignas(32) const std::int32_t kTailMask[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};

// R rows of A against C rows of Bt over k in [k0, k1): R * C accumulators (4 x 2 = 8 hides the FMA latency on
// two pipes), 8 k per step, a k tail (only where k1 is the end) by masked loads, which read no masked-off lane.
// The accumulators start from zero (first) or from `keep`, and end summed across lanes into c (last) or in
// `keep`: k0 is a multiple of 8, so each lane sums the same k in the same order however k is cut.
template <int R, int C>
void dot_block(const float* a, std::int64_t lda, const float* bt, std::int64_t ldb, std::int64_t k0,
               std::int64_t k1, __m256* keep, bool first, bool last, float* c, std::int64_t ldc) {
  __m256 s[R][C];
#pragma GCC unroll 4
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 2
    for (int j = 0; j < C; ++j) s[r][j] = first ? _mm256_setzero_ps() : keep[r * C + j];
  std::int64_t kk = k0;
  for (; kk + 8 <= k1; kk += 8) {
    __m256 y[C];
#pragma GCC unroll 2
    for (int j = 0; j < C; ++j) y[j] = _mm256_loadu_ps(bt + j * ldb + kk);
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r) {
      __m256 x = _mm256_loadu_ps(a + r * lda + kk);
      // In a register: GCC otherwise folds the load into each of the C FMAs, C loads instead of one.
      __asm__("" : "+x"(x));
#pragma GCC unroll 2
      for (int j = 0; j < C; ++j) s[r][j] = _mm256_fmadd_ps(x, y[j], s[r][j]);
    }
  }
  if (kk < k1) {
    const __m256i mask = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(kTailMask + 8 - (k1 - kk)));
    __m256 y[C];
#pragma GCC unroll 2
    for (int j = 0; j < C; ++j) y[j] = _mm256_maskload_ps(bt + j * ldb + kk, mask);
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r) {
      const __m256 x = _mm256_maskload_ps(a + r * lda + kk, mask);
#pragma GCC unroll 2
      for (int j = 0; j < C; ++j) s[r][j] = _mm256_fmadd_ps(x, y[j], s[r][j]);
    }
  }
#pragma GCC unroll 4
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 2
    for (int j = 0; j < C; ++j) {
      if (last)
        c[r * ldc + j] = hsum(s[r][j]);
      else
        keep[r * C + j] = s[r][j];
    }
}

// k in chunks of kDotChunk: a row block's chunk of x (4 x 2 KB) and the chunk of every Bt row (10 x 2 KB for 10
// units) stay in L1 while all column pairs pass over them; whole rows (4 x 6.4 KB of x beside 2 of the 10 Bt
// rows, for each pair in turn) did not fit, and x came again from L2 for every pair (about half the FMA rate).
constexpr std::int64_t kDotChunk = 512;
constexpr std::int64_t kDotKeepColumns = 64;  // accumulators kept between chunks for up to this many columns

template <int R>
void dot_row_block(std::int64_t n, std::int64_t k, const float* a, std::int64_t lda, const float* bt,
                   std::int64_t ldb, float* c, std::int64_t ldc) {
  __m256 keep[4 * kDotKeepColumns];  // R accumulators per column
  const std::int64_t chunk = n <= kDotKeepColumns ? kDotChunk : k;
  for (std::int64_t k0 = 0; k0 < k; k0 += chunk) {
    const std::int64_t k1 = std::min(k, k0 + chunk);
    const bool first = k0 == 0, last = k1 == k;
    std::int64_t j = 0;
    for (; j + 2 <= n; j += 2)
      dot_block<R, 2>(a, lda, bt + j * ldb, ldb, k0, k1, keep + R * j, first, last, c + j, ldc);
    if (j < n) dot_block<R, 1>(a, lda, bt + j * ldb, ldb, k0, k1, keep + R * j, first, last, c + j, ldc);
  }
}

}  // namespace

void gemm_dot_rows_avx2(std::int64_t m, std::int64_t n, std::int64_t k, const float* a, std::int64_t lda,
                        const float* bt, std::int64_t ldb, float* c, std::int64_t ldc) {
  if (k <= 0) {
    for (std::int64_t i = 0; i < m; ++i)
      for (std::int64_t j = 0; j < n; ++j) c[i * ldc + j] = 0.0f;
    return;
  }
  std::int64_t i = 0;
  for (; i + 4 <= m; i += 4) dot_row_block<4>(n, k, a + i * lda, lda, bt, ldb, c + i * ldc, ldc);
  for (; i < m; ++i) dot_row_block<1>(n, k, a + i * lda, lda, bt, ldb, c + i * ldc, ldc);
  _mm256_zeroupper();
}

}  // namespace convlite

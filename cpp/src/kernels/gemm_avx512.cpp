// AVX-512 GEMM microkernel: an 8x32 tile in 16 named zmm accumulators. Compiles everywhere the compiler knows
// AVX-512; runs only when forced (CONVLITE_ISA=avx512) until tested on real hardware (see DESIGN.md).
#include <immintrin.h>

#include "kernels/gemm_kernels.hpp"

namespace convlite {
namespace {

constexpr int kMr = 8, kNr = 32;

__m512 activate(__m512 v, int activation, __m512 slope) {
  if (activation == 1) return _mm512_max_ps(_mm512_setzero_ps(), v);  // keeps NaN
  if (activation == 2) {
    const __mmask16 pos = _mm512_cmp_ps_mask(v, _mm512_setzero_ps(), _CMP_GT_OQ);
    return _mm512_mask_blend_ps(pos, _mm512_mul_ps(v, slope), v);
  }
  return v;
}

__attribute__((always_inline)) inline void finish_row(__m512 v0, __m512 v1, float* c, const MicroTile& t) {
  const int n0 = t.nv < 16 ? static_cast<int>(t.nv) : 16;
  const int n1 = t.nv > 16 ? static_cast<int>(t.nv) - 16 : 0;
  const __mmask16 m0 = static_cast<__mmask16>((1u << n0) - 1u);
  const __mmask16 m1 = static_cast<__mmask16>((1u << n1) - 1u);
  if (t.beta != 0.0f) {
    const __m512 beta = _mm512_set1_ps(t.beta);
    v0 = _mm512_add_ps(v0, _mm512_mul_ps(beta, _mm512_maskz_loadu_ps(m0, c)));
    v1 = _mm512_add_ps(v1, _mm512_mul_ps(beta, _mm512_maskz_loadu_ps(m1, c + 16)));
  }
  if (t.bias) {
    v0 = _mm512_add_ps(v0, _mm512_loadu_ps(t.bias));
    v1 = _mm512_add_ps(v1, _mm512_loadu_ps(t.bias + 16));
  }
  if (t.activation != 0) {
    const __m512 slope = _mm512_set1_ps(t.negative_slope);
    v0 = activate(v0, t.activation, slope);
    v1 = activate(v1, t.activation, slope);
  }
  _mm512_mask_storeu_ps(c, m0, v0);
  _mm512_mask_storeu_ps(c + 16, m1, v1);
}

#define CONVLITE_ROW_FMA(r)                   \
  av = _mm512_set1_ps(*a##r);                 \
  c##r##0 = _mm512_fmadd_ps(av, b0, c##r##0); \
  c##r##1 = _mm512_fmadd_ps(av, b1, c##r##1); \
  a##r += step;

void tile_8x32(const MicroTile& t) {
  __m512 c00 = _mm512_setzero_ps(), c01 = _mm512_setzero_ps(), c10 = _mm512_setzero_ps(),
         c11 = _mm512_setzero_ps(), c20 = _mm512_setzero_ps(), c21 = _mm512_setzero_ps(),
         c30 = _mm512_setzero_ps(), c31 = _mm512_setzero_ps(), c40 = _mm512_setzero_ps(),
         c41 = _mm512_setzero_ps(), c50 = _mm512_setzero_ps(), c51 = _mm512_setzero_ps(),
         c60 = _mm512_setzero_ps(), c61 = _mm512_setzero_ps(), c70 = _mm512_setzero_ps(),
         c71 = _mm512_setzero_ps();
  const std::int64_t kc = t.kc, step = t.a_step;
  for (std::int64_t tap = 0; tap < t.taps; ++tap) {
    const float* const* ap = t.a + tap * kMr;
    const float *a0 = ap[0], *a1 = ap[1], *a2 = ap[2], *a3 = ap[3], *a4 = ap[4], *a5 = ap[5], *a6 = ap[6],
                *a7 = ap[7];
    const float* b = t.b[tap];
    for (std::int64_t k = 0; k < kc; ++k) {
      const __m512 b0 = _mm512_loadu_ps(b), b1 = _mm512_loadu_ps(b + 16);
      __m512 av;
      CONVLITE_ROW_FMA(0)
      CONVLITE_ROW_FMA(1)
      CONVLITE_ROW_FMA(2)
      CONVLITE_ROW_FMA(3)
      CONVLITE_ROW_FMA(4)
      CONVLITE_ROW_FMA(5)
      CONVLITE_ROW_FMA(6)
      CONVLITE_ROW_FMA(7)
      b += kNr;
    }
  }
  const std::int64_t mv = t.mv;
  finish_row(c00, c01, t.c[0], t);
  if (mv > 1) finish_row(c10, c11, t.c[1], t);
  if (mv > 2) finish_row(c20, c21, t.c[2], t);
  if (mv > 3) finish_row(c30, c31, t.c[3], t);
  if (mv > 4) finish_row(c40, c41, t.c[4], t);
  if (mv > 5) finish_row(c50, c51, t.c[5], t);
  if (mv > 6) finish_row(c60, c61, t.c[6], t);
  if (mv > 7) finish_row(c70, c71, t.c[7], t);
  _mm256_zeroupper();  // clean upper halves before the SSE-encoded driver code (see gemm_avx2.cpp)
}

void tile_8x32_b_rows(const MicroTile& t) {
  __m512 c00 = _mm512_setzero_ps(), c01 = _mm512_setzero_ps(), c10 = _mm512_setzero_ps(),
         c11 = _mm512_setzero_ps(), c20 = _mm512_setzero_ps(), c21 = _mm512_setzero_ps(),
         c30 = _mm512_setzero_ps(), c31 = _mm512_setzero_ps(), c40 = _mm512_setzero_ps(),
         c41 = _mm512_setzero_ps(), c50 = _mm512_setzero_ps(), c51 = _mm512_setzero_ps(),
         c60 = _mm512_setzero_ps(), c61 = _mm512_setzero_ps(), c70 = _mm512_setzero_ps(),
         c71 = _mm512_setzero_ps();
  const std::int64_t kc = t.kc, step = t.a_step;
  const float *a0 = t.a[0], *a1 = t.a[1], *a2 = t.a[2], *a3 = t.a[3], *a4 = t.a[4], *a5 = t.a[5], *a6 = t.a[6],
              *a7 = t.a[7];
  for (std::int64_t k = 0; k < kc; ++k) {
    const float* b = t.b[k];
    const __m512 b0 = _mm512_loadu_ps(b), b1 = _mm512_loadu_ps(b + 16);
    __m512 av;
    CONVLITE_ROW_FMA(0)
    CONVLITE_ROW_FMA(1)
    CONVLITE_ROW_FMA(2)
    CONVLITE_ROW_FMA(3)
    CONVLITE_ROW_FMA(4)
    CONVLITE_ROW_FMA(5)
    CONVLITE_ROW_FMA(6)
    CONVLITE_ROW_FMA(7)
  }
  const std::int64_t mv = t.mv;
  finish_row(c00, c01, t.c[0], t);
  if (mv > 1) finish_row(c10, c11, t.c[1], t);
  if (mv > 2) finish_row(c20, c21, t.c[2], t);
  if (mv > 3) finish_row(c30, c31, t.c[3], t);
  if (mv > 4) finish_row(c40, c41, t.c[4], t);
  if (mv > 5) finish_row(c50, c51, t.c[5], t);
  if (mv > 6) finish_row(c60, c61, t.c[6], t);
  if (mv > 7) finish_row(c70, c71, t.c[7], t);
  _mm256_zeroupper();  // clean upper halves before the SSE-encoded driver code (see gemm_avx2.cpp)
}

#undef CONVLITE_ROW_FMA

void activation_grad(const float* dy, const float* y, float* dz, std::int64_t n, int activation, float slope) {
  const __m512 zero = _mm512_setzero_ps(), s = _mm512_set1_ps(slope);
  for (std::int64_t i = 0; i < n; i += 16) {
    const std::int64_t left = n - i;
    const __mmask16 m = left >= 16 ? static_cast<__mmask16>(0xffff) : static_cast<__mmask16>((1u << left) - 1u);
    const __m512 g = _mm512_maskz_loadu_ps(m, dy + i);
    const __mmask16 pos = _mm512_cmp_ps_mask(_mm512_maskz_loadu_ps(m, y + i), zero, _CMP_GT_OQ);
    __m512 v = g;
    if (activation == 1) v = _mm512_maskz_mov_ps(pos, g);
    if (activation == 2) v = _mm512_mask_blend_ps(pos, _mm512_mul_ps(g, s), g);
    _mm512_mask_storeu_ps(dz + i, m, v);
  }
}

// Distinct starting values, as in gemm_avx2.cpp: identical chains would be merged into one.
double fma_peak(std::int64_t iterations) {
  __m512 a0 = _mm512_set1_ps(0.1f), a1 = _mm512_set1_ps(0.2f), a2 = _mm512_set1_ps(0.3f), a3 = _mm512_set1_ps(0.4f),
         a4 = _mm512_set1_ps(0.5f), a5 = _mm512_set1_ps(0.6f), a6 = _mm512_set1_ps(0.7f), a7 = _mm512_set1_ps(0.8f),
         a8 = _mm512_set1_ps(0.9f), a9 = _mm512_set1_ps(1.0f);
  const __m512 m = _mm512_set1_ps(0.999999f), c = _mm512_set1_ps(1e-7f);
  for (std::int64_t i = 0; i < iterations; ++i) {
    a0 = _mm512_fmadd_ps(a0, m, c), a1 = _mm512_fmadd_ps(a1, m, c), a2 = _mm512_fmadd_ps(a2, m, c);
    a3 = _mm512_fmadd_ps(a3, m, c), a4 = _mm512_fmadd_ps(a4, m, c), a5 = _mm512_fmadd_ps(a5, m, c);
    a6 = _mm512_fmadd_ps(a6, m, c), a7 = _mm512_fmadd_ps(a7, m, c), a8 = _mm512_fmadd_ps(a8, m, c);
    a9 = _mm512_fmadd_ps(a9, m, c);
  }
  const __m512 sum = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)),
                                   _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(a4, a5), _mm512_add_ps(a6, a7)),
                                                 _mm512_add_ps(a8, a9)));
  alignas(64) float out[16];
  _mm512_store_ps(out, sum);
  volatile float sink = out[0];
  (void)sink;
  return 2.0 * 16 * 10 * static_cast<double>(iterations);
}

// R rows of A against C rows of Bt (see gemm_avx2.cpp's dot_block): 16 k per step, the k tail by masked loads.
template <int R, int C>
void dot_block(const float* a, std::int64_t lda, const float* bt, std::int64_t ldb, std::int64_t k, float* c,
               std::int64_t ldc) {
  __m512 s[R][C];
#pragma GCC unroll 4
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 2
    for (int j = 0; j < C; ++j) s[r][j] = _mm512_setzero_ps();
  for (std::int64_t kk = 0; kk < k; kk += 16) {
    const __mmask16 mask = k - kk >= 16 ? static_cast<__mmask16>(0xFFFF)
                                        : static_cast<__mmask16>((1u << static_cast<unsigned>(k - kk)) - 1u);
    __m512 y[C];
#pragma GCC unroll 2
    for (int j = 0; j < C; ++j) y[j] = _mm512_maskz_loadu_ps(mask, bt + j * ldb + kk);
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r) {
      const __m512 x = _mm512_maskz_loadu_ps(mask, a + r * lda + kk);
#pragma GCC unroll 2
      for (int j = 0; j < C; ++j) s[r][j] = _mm512_fmadd_ps(x, y[j], s[r][j]);
    }
  }
#pragma GCC unroll 4
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 2
    for (int j = 0; j < C; ++j) {
      // Halves, quarters, pairs, then neighbours, in zmm. The masked forms with an explicit source: GCC 12's
      // unmasked shuffles and narrowing casts start from an "undefined" vector and warn (-Wuninitialized) here.
      constexpr __mmask16 all = 0xFFFF;
      __m512 v = s[r][j];
      v = _mm512_add_ps(v, _mm512_mask_shuffle_f32x4(v, all, v, v, 0x4E));
      v = _mm512_add_ps(v, _mm512_mask_shuffle_f32x4(v, all, v, v, 0xB1));
      v = _mm512_add_ps(v, _mm512_mask_permute_ps(v, all, v, 0x4E));
      v = _mm512_add_ps(v, _mm512_mask_permute_ps(v, all, v, 0xB1));
      c[r * ldc + j] = _mm512_cvtss_f32(v);
    }
}

void dot_rows(std::int64_t m, std::int64_t n, std::int64_t k, const float* a, std::int64_t lda, const float* bt,
              std::int64_t ldb, float* c, std::int64_t ldc) {
  std::int64_t i = 0;
  for (; i + 4 <= m; i += 4) {
    std::int64_t j = 0;
    for (; j + 2 <= n; j += 2) dot_block<4, 2>(a + i * lda, lda, bt + j * ldb, ldb, k, c + i * ldc + j, ldc);
    if (j < n) dot_block<4, 1>(a + i * lda, lda, bt + j * ldb, ldb, k, c + i * ldc + j, ldc);
  }
  for (; i < m; ++i) {
    std::int64_t j = 0;
    for (; j + 2 <= n; j += 2) dot_block<1, 2>(a + i * lda, lda, bt + j * ldb, ldb, k, c + i * ldc + j, ldc);
    if (j < n) dot_block<1, 1>(a + i * lda, lda, bt + j * ldb, ldb, k, c + i * ldc + j, ldc);
  }
  _mm256_zeroupper();
}

// Packs B's rows (if streamed in place), then runs the ordinary tile on the copy (the same products in the same
// order); the prefetch hint is ignored. Not fused as in gemm_avx2.cpp: this tier cannot run here, so it stays the
// obviously right form until measured on hardware.
void tile_stream(const MicroTile& t, const BStream& s) {
  const float* packed = t.b[0];
  if (s.src) {
    for (std::int64_t k = 0; k < t.kc; ++k)
      for (int j = 0; j < kNr; ++j) s.pack[k * kNr + j] = s.src[k * s.src_stride + j];
    packed = s.pack;
  }
  MicroTile u = t;
  u.b = &packed;
  tile_8x32(u);
}

constexpr GemmKernels kAvx512Table = {kMr, kNr, &tile_8x32, &tile_8x32_b_rows, &activation_grad, &fma_peak,
                                      &dot_rows, &tile_stream};

}  // namespace

const GemmKernels& gemm_kernels_avx512() { return kAvx512Table; }

}  // namespace convlite

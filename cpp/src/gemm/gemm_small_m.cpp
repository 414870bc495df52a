// The GEMM for few rows (a dense layer's batch): C = act(A * B + bias) with all of A packed once and B packed
// one micro-panel at a time, by the thread that owns those columns, while it is used.
//
// Why: with m = 64 the whole A (m x k) is one MC block, so each B element is used by only m / MR tiles. Packing
// all of B up front (pack_b) wrote it out and read it back from L3 once more, in a pass of its own; packing a
// few micro-panels right before use (the previous version) still read B in a pass of its own with no FMA beside
// it (12% of a 64 x 1024 -> 512 forward). Here the first row tile of each micro-panel and K block reads B in
// place (a row-major B: one 64-byte row of the panel per k, a whole B row apart) and stores the packed copy as it
// goes (tile_stream); the other row tiles read that copy, and meanwhile prefetch, a slice each, the rows of the
// next micro-panel, so the first tile finds them in cache. Threads split the panels (N), not the rows, so B is
// read exactly once in all, A stays in L2, and the C columns of a group stay in L1/L2 across K blocks.
// The K blocks and the microkernel's FMAs are those of indirect_gemm with kc_block = kPackedKc, so results do not
// depend on the thread count (nor on which driver ran).
#include "gemm/gemm_driver.hpp"

#if defined(__SSE2__) || defined(_M_X64)
#include <xmmintrin.h>
#endif

namespace convlite::gemm {
namespace {

// Micro-panels per group: each K block runs over the group's panels before the next, so a group's C columns
// (64 x 64 floats for m = 64) stay in L1/L2 across the K blocks.
constexpr std::int64_t kGroup = 4;

// One kc x nr micro-panel: dst[kk * nr + j] = B(k0 + kk, j0 + j), zero for j >= nv.
void pack_micro_panel(float* dst, const float* src, std::int64_t k0, std::int64_t kc, std::int64_t j0,
                      std::int64_t nv, std::int64_t nr, std::int64_t row_stride, std::int64_t col_stride) {
  if (col_stride == 1) {
    const float* row = src + k0 * row_stride + j0;
    if (nv == nr && nr == 16) {  // a fixed-size copy the compiler inlines (see copy_panel in gemm_driver.cpp)
      for (std::int64_t kk = 0; kk < kc; ++kk, dst += 16, row += row_stride)
        for (int j = 0; j < 16; ++j) dst[j] = row[j];
      return;
    }
    for (std::int64_t kk = 0; kk < kc; ++kk, dst += nr, row += row_stride) {
      for (std::int64_t j = 0; j < nv; ++j) dst[j] = row[j];
      for (std::int64_t j = nv; j < nr; ++j) dst[j] = 0.0f;
    }
    return;
  }
  // B's columns are rows in memory (row_stride == 1 in practice): read each along k, write down the panel.
  std::int64_t j_done = 0;
#if defined(__SSE2__) || defined(_M_X64)
  if (row_stride == 1) {  // 4 columns x 4 k per SSE transpose (the scalar scatter below was 15% of a dense dx)
    const std::int64_t j4 = nv / 4 * 4, k4 = kc / 4 * 4;
    for (std::int64_t j = 0; j < j4; j += 4) {
      const float* col = src + (j0 + j) * col_stride + k0;
      for (std::int64_t kk = 0; kk < k4; kk += 4) {
        __m128 r0 = _mm_loadu_ps(col + kk), r1 = _mm_loadu_ps(col + col_stride + kk);
        __m128 r2 = _mm_loadu_ps(col + 2 * col_stride + kk), r3 = _mm_loadu_ps(col + 3 * col_stride + kk);
        _MM_TRANSPOSE4_PS(r0, r1, r2, r3);
        float* d = dst + kk * nr + j;
        _mm_storeu_ps(d, r0);
        _mm_storeu_ps(d + nr, r1);
        _mm_storeu_ps(d + 2 * nr, r2);
        _mm_storeu_ps(d + 3 * nr, r3);
      }
      for (std::int64_t kk = k4; kk < kc; ++kk)
        for (std::int64_t q = 0; q < 4; ++q) dst[kk * nr + j + q] = col[q * col_stride + kk];
    }
    j_done = j4;
  }
#endif
  for (std::int64_t j = j_done; j < nr; ++j) {
    float* d = dst + j;
    if (j >= nv) {
      for (std::int64_t kk = 0; kk < kc; ++kk, d += nr) *d = 0.0f;
      continue;
    }
    const float* col = src + (j0 + j) * col_stride + k0 * row_stride;
    for (std::int64_t kk = 0; kk < kc; ++kk, d += nr) *d = col[kk * row_stride];
  }
}

// MR-panel of rows [m0, m0 + mv) over all k, k-major (dst[k * mr + r]), zero rows beyond mv.
void pack_a_panel(float* dst, const float* a, std::int64_t lda, std::int64_t m0, std::int64_t mv, std::int64_t mr,
                  std::int64_t k) {
  const float* row[16] = {};  // every kernel table has mr <= 16
  for (std::int64_t r = 0; r < mv; ++r) row[r] = a + (m0 + r) * lda;
  if (mv == 6 && mr == 6) {
    pack_rows6(dst, row, k);
    return;
  }
  for (std::int64_t kk = 0; kk < k; ++kk, dst += mr)
    for (std::int64_t r = 0; r < mr; ++r) dst[r] = r < mv ? row[r][kk] : 0.0f;
}

}  // namespace

bool small_m_fits(std::int64_t m, std::int64_t k) {
  const std::int64_t mr = kernels().mr;
  const std::int64_t rows = (m + mr - 1) / mr * mr;
  // The packed A stays in L2 (512 KB here) beside the B micro-panel and the C panel: at most 96K floats.
  return m > 0 && k > 0 && rows <= 192 && rows * k <= 96 * 1024;
}

void small_m_gemm(std::int64_t m, std::int64_t n, std::int64_t k, const float* a, std::int64_t lda, const float* b,
                  std::int64_t b_row_stride, std::int64_t b_col_stride, float* c, std::int64_t ldc,
                  const float* padded_bias, int activation, float negative_slope, float beta) {
  const GemmKernels& kt = kernels();
  const std::int64_t mr = kt.mr, nr = kt.nr;
  if (m <= 0 || n <= 0 || k <= 0) return;
  const std::int64_t m_tiles = (m + mr - 1) / mr, panels = (n + nr - 1) / nr;
  // K blocks as indirect_gemm cuts them for a packed A: equal blocks of at most kPackedKc.
  const std::int64_t nk = (k + kPackedKc - 1) / kPackedKc;
  const std::int64_t kc_max = (k + nk - 1) / nk;
  // A packed once for all threads, in the calling thread's buffer (workers only write their own tiles).
  float* packed_a = workspace(Slot::packed_a, m_tiles * mr * k);
  parallel_for(m_tiles, 8.0 * static_cast<double>(mr * k), [&](std::int64_t t0, std::int64_t t1) {
    for (std::int64_t t = t0; t < t1; ++t)
      pack_a_panel(packed_a + t * mr * k, a, lda, t * mr, std::min(mr, m - t * mr), mr, k);
  });
  const double cost = kDenseFlopCost * 2.0 * static_cast<double>(m_tiles * mr) * static_cast<double>(k * nr);
  parallel_for(panels, cost, [&](std::int64_t p0, std::int64_t p1) {
    float* packed = workspace(Slot::packed_b, kc_max * nr);  // this thread's own micro-panel (L1/L2)
    const float* a_rows[16];
    float* c_rows[16];
    const float* b_ptr = packed;
    MicroTile t;
    t.a = a_rows;
    t.a_step = mr;
    t.b = &b_ptr;
    t.c = c_rows;
    t.negative_slope = negative_slope;
    // A full micro-panel of a row-major B is read in place by its first row tile; any other is packed first.
    auto in_place = [&](std::int64_t pj) { return b_col_stride == 1 && (pj + 1) * nr <= n; };
    for (std::int64_t g0 = p0; g0 < p1; g0 += kGroup) {
      const std::int64_t g1 = std::min(p1, g0 + kGroup);
      for (std::int64_t kb = 0; kb < nk; ++kb) {
        const std::int64_t c0 = k * kb / nk, c1 = k * (kb + 1) / nk;
        const bool last = kb + 1 == nk;
        t.kc = c1 - c0;
        t.beta = kb == 0 ? beta : 1.0f;
        t.activation = last ? activation : 0;
        for (std::int64_t pj = g0; pj < g1; ++pj) {
          const std::int64_t j0 = pj * nr;
          const bool fused = in_place(pj);
          if (!fused) pack_micro_panel(packed, b, c0, t.kc, j0, std::min(nr, n - j0), nr, b_row_stride, b_col_stride);
          t.nv = std::min(nr, n - j0);
          t.bias = (last && padded_bias) ? padded_bias + j0 : nullptr;
          // The next micro-panel (this K block's next panel in the group, else the group's first panel in the next
          // K block, else the next group's first): its rows prefetched a slice per row tile.
          std::int64_t next_p = pj + 1, next_kb = kb;
          if (next_p == g1) {
            next_p = kb + 1 < nk ? g0 : g1;
            next_kb = kb + 1 < nk ? kb + 1 : 0;
          }
          const bool ahead = next_p < p1 && in_place(next_p);
          const std::int64_t next_c0 = k * next_kb / nk, next_kc = k * (next_kb + 1) / nk - next_c0;
          const std::int64_t slice = (next_kc + m_tiles - 1) / m_tiles;
          BStream stream;
          stream.src_stride = b_row_stride;
          stream.pack = packed;
          stream.prefetch_stride = b_row_stride;
          for (std::int64_t i = 0; i < m_tiles; ++i) {
            const std::int64_t m0 = i * mr;
            t.mv = std::min(mr, m - m0);
            const float* panel = packed_a + i * mr * k + c0 * mr;
            for (std::int64_t r = 0; r < mr; ++r) a_rows[r] = panel + r;
            for (std::int64_t r = 0; r < t.mv; ++r) c_rows[r] = c + (m0 + r) * ldc + j0;
            const std::int64_t r0 = std::min(next_kc, i * slice), r1 = std::min(next_kc, r0 + slice);
            stream.prefetch = ahead ? b + (next_c0 + r0) * b_row_stride + next_p * nr : nullptr;
            stream.prefetch_rows = r1 - r0;
            stream.src = fused && i == 0 ? b + c0 * b_row_stride + j0 : nullptr;
            kt.tile_stream(t, stream);
          }
        }
      }
    }
  });
}

}  // namespace convlite::gemm

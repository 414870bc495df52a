// AVX2+FMA small-conv kernels for unit pixel stride (a_stride == 1: C_in = 1 and stride_w = 1, the first layer of
// an image or signal model). The receptive field of pixel r, tap t, position k is a[r + t * tap_stride + k]: one
// pointer per (t, k) serves a whole block of pixels at constant offsets, so no gather and no per-pixel pointers.
// Register tiles of up to 13 accumulators (pixels x 8-filter vectors: 8..13 x 1, 4..6 x 2, 4 x 3, 3 x 4) keep both FMA pipes busy
// (the general kernel's 4-pixel tiles are latency-bound on 4 chains when F <= 8 and reload weights every 4 pixels).
// Every pixel's sum runs k in order, taps in order, exactly as the general kernel: results do not depend on
// which block a pixel falls in (a tail block overlaps the previous one and recomputes identical values).
#include <immintrin.h>

#include <algorithm>

#include "kernels/smallconv_kernels.hpp"

namespace convlite {
namespace {

#include "kernels/epilogue_avx2.inc"

// P pixels from r0 x NV vectors of filters. Accumulators acc[q][v] are indexed by constants of fully unrolled
// loops, so they stay in registers.
template <int P, int NV, bool kUnit>
void forward_tile(const SmallConvArgs& p, std::int64_t r0) {
  __m256 acc[P][NV];
#pragma GCC unroll 13
  for (int q = 0; q < P; ++q)
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) acc[q][v] = _mm256_setzero_ps();
  const float* w = p.w;
  const std::int64_t stride = kUnit ? 1 : p.a_stride;
  for (std::int64_t t = 0; t < p.taps; ++t) {
    const float* a = p.a + r0 * stride + t * p.tap_stride;
    for (std::int64_t k = 0; k < p.kc; ++k, ++a, w += p.ldw) {
      __m256 wv[NV];
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) wv[v] = _mm256_loadu_ps(w + 8 * v);
#pragma GCC unroll 13
      for (int q = 0; q < P; ++q) {
        const __m256 av = _mm256_broadcast_ss(a + q * stride);
#pragma GCC unroll 4
        for (int v = 0; v < NV; ++v) acc[q][v] = _mm256_fmadd_ps(av, wv[v], acc[q][v]);
      }
    }
  }
  // Stores: whole vectors while the row has room (a pixel's excess lanes land on the following pixels, which are
  // stored after it), masked stores only at the end of the call's row. The fields of p are read into
  // locals first: stores through y may alias p, and the compiler would reload them after every store.
  const std::int64_t f = p.f;
  const float* bias = p.bias;
  const int activation = p.activation;
  const __m256 slope = _mm256_set1_ps(p.negative_slope);
  float* y = p.y + r0 * f;
#pragma GCC unroll 13
  for (int q = 0; q < P; ++q, y += f) {
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) {
      __m256 o = acc[q][v];
      if (bias) o = _mm256_add_ps(o, _mm256_loadu_ps(bias + 8 * v));
      if (activation) o = activate(o, activation, slope);
      acc[q][v] = o;
    }
#pragma GCC unroll 4
    for (int v = 0; v < NV - 1; ++v) _mm256_storeu_ps(y + 8 * v, acc[q][v]);
    if ((p.rows - r0 - q) * f >= 8 * NV)  // the whole vector stays inside the row
      _mm256_storeu_ps(y + 8 * (NV - 1), acc[q][NV - 1]);
    else
      _mm256_maskstore_ps(y + 8 * (NV - 1), tail_mask(f - 8 * (NV - 1)), acc[q][NV - 1]);
  }
}

// Tiles of P pixels, the last one overlapping its neighbour when P does not divide the row.
template <int P, int NV>
void forward_rows(const SmallConvArgs& p) {
  if (p.a_stride == 1) {
    for (std::int64_t r0 = 0; r0 < p.rows; r0 += P) forward_tile<P, NV, true>(p, std::min(r0, p.rows - P));
  } else {
    for (std::int64_t r0 = 0; r0 < p.rows; r0 += P) forward_tile<P, NV, false>(p, std::min(r0, p.rows - P));
  }
}

// The narrowest tile that covers the row in as few tiles as the widest (at most 13 accumulators: with the
// weight vectors and the broadcast that fills the 16 ymm registers) does: 28 pixels as 10 + 10 + 8, not
// 12 + 12 + 4 recomputing 8.
std::int64_t tile_pixels(std::int64_t rows, std::int64_t max_pixels, std::int64_t min_pixels) {
  const std::int64_t tiles = (rows + max_pixels - 1) / max_pixels;
  return std::max(min_pixels, (rows + tiles - 1) / tiles);
}

// ---- Weight gradient, unit pixel stride and C_in = 1 (kc = kernel width KW): dw[t * KW + j][f] += sum_r
// a[r + t * tap_stride + j] * dz[r][f]. A chunk of up to kChunk pixels has its dz rows masked once into a local
// buffer (zero beyond F) while the bias gradient is summed; then tiles of TR kernel rows x KW x NVB filter vectors
// (at most 12 accumulators) stream the chunk's pixels in order, with TR row pointers and constant offsets.
constexpr std::int64_t kChunk = 64;

template <int KW, int TR, int NVB>
void weight_grad_tile(const SmallConvArgs& p, const float* zb, std::int64_t ldz, std::int64_t r0, std::int64_t n,
                      std::int64_t t0, std::int64_t v0) {
  __m256 acc[TR][KW][NVB];
  float* dw = p.dw + t0 * KW * p.ldw + 8 * v0;
#pragma GCC unroll 4
  for (int i = 0; i < TR; ++i)
#pragma GCC unroll 7
    for (int j = 0; j < KW; ++j)
#pragma GCC unroll 4
      for (int v = 0; v < NVB; ++v) acc[i][j][v] = _mm256_loadu_ps(dw + (i * KW + j) * p.ldw + 8 * v);
  const float* a[TR];
#pragma GCC unroll 4
  for (int i = 0; i < TR; ++i) a[i] = p.a + r0 + (t0 + i) * p.tap_stride;
  const float* z = zb + 8 * v0;
  for (std::int64_t r = 0; r < n; ++r, z += ldz) {
    __m256 zv[NVB];
#pragma GCC unroll 4
    for (int v = 0; v < NVB; ++v) zv[v] = _mm256_load_ps(z + 8 * v);
#pragma GCC unroll 4
    for (int i = 0; i < TR; ++i)
#pragma GCC unroll 7
      for (int j = 0; j < KW; ++j) {
        const __m256 av = _mm256_broadcast_ss(a[i] + r + j);
#pragma GCC unroll 4
        for (int v = 0; v < NVB; ++v) acc[i][j][v] = _mm256_fmadd_ps(av, zv[v], acc[i][j][v]);
      }
  }
#pragma GCC unroll 4
  for (int i = 0; i < TR; ++i)
#pragma GCC unroll 7
    for (int j = 0; j < KW; ++j)
#pragma GCC unroll 4
      for (int v = 0; v < NVB; ++v) _mm256_storeu_ps(dw + (i * KW + j) * p.ldw + 8 * v, acc[i][j][v]);
}

// Kernel rows t0.. in groups of TR (a last group of fewer rows steps down the template).
template <int KW, int TR, int NVB>
void weight_grad_rows(const SmallConvArgs& p, const float* zb, std::int64_t ldz, std::int64_t r0, std::int64_t n,
                      std::int64_t t0, std::int64_t v0) {
  for (; t0 + TR <= p.taps; t0 += TR) weight_grad_tile<KW, TR, NVB>(p, zb, ldz, r0, n, t0, v0);
  if constexpr (TR > 1) {
    if (t0 < p.taps) weight_grad_rows<KW, TR - 1, NVB>(p, zb, ldz, r0, n, t0, v0);
  }
}

// Filter vectors v0.. in groups of NVB (a last group of fewer vectors steps down), each over every kernel row.
template <int KW, int NVB>
void weight_grad_vectors(const SmallConvArgs& p, const float* zb, std::int64_t ldz, std::int64_t r0, std::int64_t n,
                         std::int64_t v0, std::int64_t nv) {
  constexpr int kRows = 12 / (KW * NVB) > 0 ? 12 / (KW * NVB) : 1;
  for (; v0 + NVB <= nv; v0 += NVB) weight_grad_rows<KW, kRows, NVB>(p, zb, ldz, r0, n, 0, v0);
  if constexpr (NVB > 1) {
    if (v0 < nv) weight_grad_vectors<KW, NVB - 1>(p, zb, ldz, r0, n, v0, nv);
  }
}

// The chunk's dz rows (times act'(y) when the mask is fused) copied to zb, zero beyond F, and summed into db.
// Pixel by pixel with the row's NV vectors inner (contiguous loads that the prefetcher follows), even and odd pixels
// into separate sums: one chain per vector through all pixels cost 3 cycles (the add latency) per pixel, as much as
// a third of the FMAs.
template <int NV>
void mask_chunk(const SmallConvArgs& p, std::int64_t r0, std::int64_t n, float* zb, std::int64_t ldz) {
  const std::int64_t f = p.f;
  const __m256 slope = _mm256_set1_ps(p.negative_slope), zero = _mm256_setzero_ps();
  const __m256i last_lanes = tail_mask(f - 8 * (NV - 1));
  const bool last_full = f == 8 * NV;
  const float* mask_y = p.mask_y;
  const bool leaky = p.mask_activation == 2;
  __m256 db[2][NV];
#pragma GCC unroll 4
  for (int v = 0; v < NV; ++v) db[0][v] = db[1][v] = zero;
  auto row = [&](std::int64_t r, __m256* sums) {
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) {
      const bool full = v < NV - 1 || last_full;
      const float* src = p.dz + (r0 + r) * f + 8 * v;
      __m256 z = full ? _mm256_loadu_ps(src) : _mm256_maskload_ps(src, last_lanes);
      if (mask_y) {
        const float* ys = mask_y + (r0 + r) * f + 8 * v;
        const __m256 pos =
            _mm256_cmp_ps(full ? _mm256_loadu_ps(ys) : _mm256_maskload_ps(ys, last_lanes), zero, _CMP_GT_OQ);
        z = leaky ? _mm256_blendv_ps(_mm256_mul_ps(z, slope), z, pos) : _mm256_and_ps(z, pos);
      }
      sums[v] = _mm256_add_ps(sums[v], z);
      _mm256_store_ps(zb + r * ldz + 8 * v, z);
    }
  };
  std::int64_t r = 0;
  for (; r + 2 <= n; r += 2) {
    row(r, db[0]);
    row(r + 1, db[1]);
  }
  if (r < n) row(r, db[0]);
  if (p.db)
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v)
      _mm256_storeu_ps(p.db + 8 * v, _mm256_add_ps(_mm256_loadu_ps(p.db + 8 * v), _mm256_add_ps(db[0][v], db[1][v])));
}

template <int KW>
void weight_grad_unit(const SmallConvArgs& p) {
  constexpr int kMaxVectors = 12 / KW > 4 ? 4 : 12 / KW;
  const std::int64_t f = p.f, nv = (f + 7) / 8, ldz = 8 * nv;
  alignas(32) float zb[kChunk * 32];
  for (std::int64_t r0 = 0; r0 < p.rows; r0 += kChunk) {
    const std::int64_t n = std::min(kChunk, p.rows - r0);
    switch (nv) {
      case 1: mask_chunk<1>(p, r0, n, zb, ldz); break;
      case 2: mask_chunk<2>(p, r0, n, zb, ldz); break;
      case 3: mask_chunk<3>(p, r0, n, zb, ldz); break;
      default: mask_chunk<4>(p, r0, n, zb, ldz); break;
    }
    if (!p.dw) continue;
    weight_grad_vectors<KW, kMaxVectors>(p, zb, ldz, r0, n, 0, nv);
  }
}

}  // namespace

bool smallconv_unit_weight_grad_avx2(const SmallConvArgs& p) {
  if (p.a_stride != 1 || p.f > 32 || (p.kc != 3 && p.kc != 5)) return false;  // C_in = 1: kc is the kernel width
  // Output row by output row (the tiles read each row's fields at constant offsets), pixels in order.
  const std::int64_t per_row = p.row_pixels > 0 ? p.row_pixels : p.rows;
  SmallConvArgs row = p;
  row.row_pixels = 0;
  for (std::int64_t r0 = 0; r0 < p.rows; r0 += per_row) {
    row.rows = std::min(per_row, p.rows - r0);
    row.a = p.a + (r0 / per_row) * p.row_stride;
    row.dz = p.dz + r0 * p.f;
    row.mask_y = p.mask_y ? p.mask_y + r0 * p.f : nullptr;
    if (p.kc == 3)
      weight_grad_unit<3>(row);
    else
      weight_grad_unit<5>(row);
  }
  return true;
}

bool smallconv_unit_forward_avx2(const SmallConvArgs& p) {
  if (smallconv_pixels_forward_avx2(p)) return true;  // F <= 6: pixels in the lanes
  const std::int64_t nv = (p.f + 7) / 8;
  if (nv > 4 || (p.a_stride != 1 && nv == 1)) return false;  // 8..13 runtime-strided pixels: the general kernel
  if (nv == 1 && p.rows >= 8) {
    switch (tile_pixels(p.rows, 13, 8)) {
      case 8: forward_rows<8, 1>(p); return true;
      case 9: forward_rows<9, 1>(p); return true;
      case 10: forward_rows<10, 1>(p); return true;
      case 11: forward_rows<11, 1>(p); return true;
      case 12: forward_rows<12, 1>(p); return true;
      default: forward_rows<13, 1>(p); return true;
    }
  }
  if (nv == 2 && p.rows >= 4) {
    switch (tile_pixels(p.rows, 6, 4)) {
      case 4: forward_rows<4, 2>(p); return true;
      case 5: forward_rows<5, 2>(p); return true;
      default: forward_rows<6, 2>(p); return true;
    }
  }
  if (nv == 3 && p.rows >= 4) return forward_rows<4, 3>(p), true;
  if (nv == 4 && p.rows >= 3) return forward_rows<3, 4>(p), true;
  return false;
}

}  // namespace convlite

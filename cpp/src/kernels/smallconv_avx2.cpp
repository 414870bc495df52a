// AVX2+FMA small-conv kernels: vectorised over filters (forward, weight grad) or over the receptive-field row
// (input grad). Forward keeps 4 pixels x up to 16 filters in 8 named ymm accumulators and reads each weight
// row once per 4 pixels; the weight gradient adds 4 pixels' outer products per load/store of a dW row (dW is
// K x F, in L1).
#include <immintrin.h>

#include <algorithm>

#include "kernels/smallconv_kernels.hpp"

namespace convlite {
namespace {

#include "kernels/epilogue_avx2.inc"

void store_row(float* y, __m256 v, std::int64_t f0, const SmallConvArgs& p) {
  if (p.bias) v = _mm256_add_ps(v, _mm256_loadu_ps(p.bias + f0));
  if (p.activation) v = activate(v, p.activation, _mm256_set1_ps(p.negative_slope));
  if (f0 + 8 <= p.f)
    _mm256_storeu_ps(y + f0, v);
  else
    _mm256_maskstore_ps(y + f0, tail_mask(p.f - f0), v);
}

// Pixels r0..r0+3 (rows >= np repeat the last valid one and are not stored), filters f0..f0+8*NV.
template <int NV>
void forward_block(const SmallConvArgs& p, std::int64_t r0, std::int64_t np, std::int64_t f0) {
  const float* a0 = p.a + r0 * p.a_stride;
  const float* a1 = p.a + (r0 + (np > 1 ? 1 : 0)) * p.a_stride;
  const float* a2 = p.a + (r0 + (np > 2 ? 2 : 0)) * p.a_stride;
  const float* a3 = p.a + (r0 + (np > 3 ? 3 : 0)) * p.a_stride;
  __m256 c0 = _mm256_setzero_ps(), c1 = c0, c2 = c0, c3 = c0, d0 = c0, d1 = c0, d2 = c0, d3 = c0;
  for (std::int64_t t = 0; t < p.taps; ++t) {
    const float* w = p.w + t * p.kc * p.ldw + f0;
    const std::int64_t off = t * p.tap_stride;
    for (std::int64_t k = 0; k < p.kc; ++k, w += p.ldw) {
      const __m256 w0 = _mm256_loadu_ps(w);
      __m256 w1;
      if constexpr (NV == 2) w1 = _mm256_loadu_ps(w + 8);
      __m256 av = _mm256_broadcast_ss(a0 + off + k);
      c0 = _mm256_fmadd_ps(av, w0, c0);
      if constexpr (NV == 2) d0 = _mm256_fmadd_ps(av, w1, d0);
      av = _mm256_broadcast_ss(a1 + off + k);
      c1 = _mm256_fmadd_ps(av, w0, c1);
      if constexpr (NV == 2) d1 = _mm256_fmadd_ps(av, w1, d1);
      av = _mm256_broadcast_ss(a2 + off + k);
      c2 = _mm256_fmadd_ps(av, w0, c2);
      if constexpr (NV == 2) d2 = _mm256_fmadd_ps(av, w1, d2);
      av = _mm256_broadcast_ss(a3 + off + k);
      c3 = _mm256_fmadd_ps(av, w0, c3);
      if constexpr (NV == 2) d3 = _mm256_fmadd_ps(av, w1, d3);
    }
  }
  float* y = p.y + r0 * p.f;
  // Named stores (an indexed array of accumulators would be spilled to the stack).
  store_row(y, c0, f0, p);
  if constexpr (NV == 2) store_row(y, d0, f0 + 8, p);
  if (np > 1) {
    store_row(y + p.f, c1, f0, p);
    if constexpr (NV == 2) store_row(y + p.f, d1, f0 + 8, p);
  }
  if (np > 2) {
    store_row(y + 2 * p.f, c2, f0, p);
    if constexpr (NV == 2) store_row(y + 2 * p.f, d2, f0 + 8, p);
  }
  if (np > 3) {
    store_row(y + 3 * p.f, c3, f0, p);
    if constexpr (NV == 2) store_row(y + 3 * p.f, d3, f0 + 8, p);
  }
}

void forward(const SmallConvArgs& p) {
  if (smallconv_unit_forward_avx2(p)) return;
  for (std::int64_t r0 = 0; r0 < p.rows; r0 += 4) {
    const std::int64_t np = p.rows - r0 < 4 ? p.rows - r0 : 4;
    std::int64_t f0 = 0;
    for (; f0 + 8 < p.f; f0 += 16) forward_block<2>(p, r0, np, f0);
    if (f0 < p.f) forward_block<1>(p, r0, np, f0);
  }
}

// dz row r, filters f0.. (lanes beyond f zero), times act'(y) when the gradient mask is fused (mask_y set).
// (A masked load is slow on Zen: whole rows of 8 use plain loads.)
__m256 load_dz(const SmallConvArgs& p, std::int64_t r, std::int64_t f0, __m256i lanes) {
  const bool full = f0 + 8 <= p.f;
  const float* src = p.dz + r * p.f + f0;
  const __m256 z = full ? _mm256_loadu_ps(src) : _mm256_maskload_ps(src, lanes);
  if (!p.mask_y) return z;
  const float* ys = p.mask_y + r * p.f + f0;
  const __m256 pos = _mm256_cmp_ps(full ? _mm256_loadu_ps(ys) : _mm256_maskload_ps(ys, lanes), _mm256_setzero_ps(),
                                   _CMP_GT_OQ);
  if (p.mask_activation == 2) return _mm256_blendv_ps(_mm256_mul_ps(z, _mm256_set1_ps(p.negative_slope)), z, pos);
  return _mm256_and_ps(z, pos);
}

const float* field(const SmallConvArgs& p, std::int64_t r) {  // weight grad: rows may span output rows
  if (p.row_pixels <= 0) return p.a + r * p.a_stride;
  return p.a + (r / p.row_pixels) * p.row_stride + (r % p.row_pixels) * p.a_stride;
}

// Receptive fields of pixels [r0, r0 + n) gathered into rf[(r - r0) * K + k]: the block kernel then broadcasts
// from one pointer with constant offsets (13 separate row pointers would not fit in registers).
constexpr std::int64_t kRowBlock = 32;

void gather_fields(const SmallConvArgs& p, std::int64_t r0, std::int64_t n, float* rf) {
  // Whole 8-float moves (rf has 8 floats of slack; a later store overwrites an earlier one's excess lanes).
  const std::int64_t k_total = p.taps * p.kc, full = p.kc / 8 * 8;
  const __m256i rest = tail_mask(p.kc - full);
  for (std::int64_t r = 0; r < n; ++r) {
    const float* a = field(p, r0 + r);
    float* d = rf + r * k_total;
    for (std::int64_t t = 0; t < p.taps; ++t, d += p.kc) {
      const float* src = a + t * p.tap_stride;
      for (std::int64_t k = 0; k < full; k += 8) _mm256_storeu_ps(d + k, _mm256_loadu_ps(src + k));
      if (full < p.kc) _mm256_storeu_ps(d + full, _mm256_maskload_ps(src + full, rest));
    }
  }
}

// dW block: KB positions from k0 x NV*8 filters from f0 in KB*NV accumulators (constant indices of fully unrolled
// loops stay in registers), streaming pixels [r0, r0 + n): per pixel NV dz loads and KB broadcasts feed KB*NV
// FMAs. dW (zero-padded to ldw) is loaded and stored once per call.
template <int NV, int KB>
void weight_grad_block(const SmallConvArgs& p, const float* rf, std::int64_t r0, std::int64_t n, std::int64_t k0,
                       std::int64_t f0) {
  __m256 acc[KB][NV];
  float* dw = p.dw + k0 * p.ldw + f0;
#pragma GCC unroll 16
  for (int k = 0; k < KB; ++k)
#pragma GCC unroll 2
    for (int v = 0; v < NV; ++v) acc[k][v] = _mm256_loadu_ps(dw + k * p.ldw + 8 * v);
  const __m256i m0 = tail_mask(p.f - f0), m1 = tail_mask(p.f - f0 - 8);
  const std::int64_t k_total = p.taps * p.kc;
  const float* a = rf + k0;
  for (std::int64_t r = 0; r < n; ++r, a += k_total) {
    __m256 z[NV];
    z[0] = load_dz(p, r0 + r, f0, m0);
    if constexpr (NV == 2) z[1] = load_dz(p, r0 + r, f0 + 8, m1);
#pragma GCC unroll 16
    for (int k = 0; k < KB; ++k) {
      const __m256 av = _mm256_broadcast_ss(a + k);
#pragma GCC unroll 2
      for (int v = 0; v < NV; ++v) acc[k][v] = _mm256_fmadd_ps(av, z[v], acc[k][v]);
    }
  }
#pragma GCC unroll 16
  for (int k = 0; k < KB; ++k)
#pragma GCC unroll 2
    for (int v = 0; v < NV; ++v) _mm256_storeu_ps(dw + k * p.ldw + 8 * v, acc[k][v]);
}

template <int NV, int KB>
void weight_grad_tail(const SmallConvArgs& p, const float* rf, std::int64_t r0, std::int64_t n, std::int64_t k0,
                      std::int64_t kb, std::int64_t f0) {
  if constexpr (KB > 1) {
    if (kb < KB) return weight_grad_tail<NV, KB - 1>(p, rf, r0, n, k0, kb, f0);
  }
  weight_grad_block<NV, KB>(p, rf, r0, n, k0, f0);
}

// Few filters (one vector): four pixels' outer products per load/store of a dW row, read from the input in
// place (a gather would cost as much as the FMAs). Includes the bias gradient.
void weight_grad_narrow(const SmallConvArgs& p) {
  for (std::int64_t r = 0; r < p.rows; r += 4) {
    const std::int64_t np = p.rows - r < 4 ? p.rows - r : 4;
    for (std::int64_t f0 = 0; f0 < p.f; f0 += 8) {
      const __m256i mask = tail_mask(p.f - f0);
      // Missing rows contribute zeros (their a pointers repeat a valid row).
      const __m256 z0 = load_dz(p, r, f0, mask);
      const __m256 z1 = np > 1 ? load_dz(p, r + 1, f0, mask) : _mm256_setzero_ps();
      const __m256 z2 = np > 2 ? load_dz(p, r + 2, f0, mask) : _mm256_setzero_ps();
      const __m256 z3 = np > 3 ? load_dz(p, r + 3, f0, mask) : _mm256_setzero_ps();
      if (p.db) {
        __m256 b = _mm256_loadu_ps(p.db + f0);
        b = _mm256_add_ps(b, z0);
        if (np > 1) b = _mm256_add_ps(b, z1);
        if (np > 2) b = _mm256_add_ps(b, z2);
        if (np > 3) b = _mm256_add_ps(b, z3);
        _mm256_storeu_ps(p.db + f0, b);
      }
      if (!p.dw) continue;
      const float* a0 = field(p, r);
      const float* a1 = field(p, r + (np > 1 ? 1 : 0));
      const float* a2 = field(p, r + (np > 2 ? 2 : 0));
      const float* a3 = field(p, r + (np > 3 ? 3 : 0));
      for (std::int64_t t = 0; t < p.taps; ++t) {
        const std::int64_t off = t * p.tap_stride;
        float* dw = p.dw + t * p.kc * p.ldw + f0;
        if (np == 4) {
          for (std::int64_t k = 0; k < p.kc; ++k, dw += p.ldw) {
            __m256 acc = _mm256_loadu_ps(dw);
            acc = _mm256_fmadd_ps(_mm256_broadcast_ss(a0 + off + k), z0, acc);
            acc = _mm256_fmadd_ps(_mm256_broadcast_ss(a1 + off + k), z1, acc);
            acc = _mm256_fmadd_ps(_mm256_broadcast_ss(a2 + off + k), z2, acc);
            acc = _mm256_fmadd_ps(_mm256_broadcast_ss(a3 + off + k), z3, acc);
            _mm256_storeu_ps(dw, acc);
          }
        } else {  // the tail: rows one by one, as the scalar order
          const float* as[4] = {a0, a1, a2, a3};
          const __m256 zs[4] = {z0, z1, z2, z3};
          for (std::int64_t k = 0; k < p.kc; ++k, dw += p.ldw) {
            __m256 acc = _mm256_loadu_ps(dw);
            for (std::int64_t q = 0; q < np; ++q) acc = _mm256_fmadd_ps(_mm256_broadcast_ss(as[q] + off + k), zs[q], acc);
            _mm256_storeu_ps(dw, acc);
          }
        }
      }
    }
  }
}

void weight_grad(const SmallConvArgs& p) {
  if (smallconv_unit_weight_grad_avx2(p)) return;
  if (p.f <= 8) return weight_grad_narrow(p);
  if (p.db) {  // four interleaved partial sums (one dependent add per row would be latency-bound)
    for (std::int64_t f0 = 0; f0 < p.f; f0 += 8) {
      const __m256i lanes = tail_mask(p.f - f0);
      __m256 b0 = _mm256_setzero_ps(), b1 = b0, b2 = b0, b3 = b0;
      std::int64_t r = 0;
      for (; r + 4 <= p.rows; r += 4) {
        b0 = _mm256_add_ps(b0, load_dz(p, r, f0, lanes));
        b1 = _mm256_add_ps(b1, load_dz(p, r + 1, f0, lanes));
        b2 = _mm256_add_ps(b2, load_dz(p, r + 2, f0, lanes));
        b3 = _mm256_add_ps(b3, load_dz(p, r + 3, f0, lanes));
      }
      for (; r < p.rows; ++r) b0 = _mm256_add_ps(b0, load_dz(p, r, f0, lanes));
      const __m256 sum = _mm256_add_ps(_mm256_add_ps(b0, b1), _mm256_add_ps(b2, b3));
      _mm256_storeu_ps(p.db + f0, _mm256_add_ps(_mm256_loadu_ps(p.db + f0), sum));
    }
  }
  if (!p.dw) return;
  // Positions split evenly into blocks of at most 6 (x 16 filters) or 12 (x 8 filters): a thin tail block would
  // be latency-bound (one dependent FMA chain per pixel).
  const std::int64_t k_total = p.taps * p.kc;
  const std::int64_t wide = p.f / 16 * 16 + (p.f % 16 > 8 ? 16 : 0);  // filters done 16 at a time
  const std::int64_t kb2 = (k_total + (k_total + 5) / 6 - 1) / ((k_total + 5) / 6);
  const std::int64_t kb1 = (k_total + (k_total + 11) / 12 - 1) / ((k_total + 11) / 12);
  alignas(32) float rf[kRowBlock * 256 + 8];  // K <= 256 on this path (32 KB)
  for (std::int64_t r0 = 0; r0 < p.rows; r0 += kRowBlock) {  // pixels stay in order for every dW element
    const std::int64_t n = std::min(kRowBlock, p.rows - r0);
    gather_fields(p, r0, n, rf);
    for (std::int64_t f0 = 0; f0 < wide; f0 += 16)
      for (std::int64_t k0 = 0; k0 < k_total; k0 += kb2)
        weight_grad_tail<2, 6>(p, rf, r0, n, k0, std::min(kb2, k_total - k0), f0);
    if (wide < p.f)
      for (std::int64_t k0 = 0; k0 < k_total; k0 += kb1)
        weight_grad_tail<1, 12>(p, rf, r0, n, k0, std::min(kb1, k_total - k0), wide);
  }
}

// Input gradient, one pixel at a time: the kc floats of each kernel row t are s(t, k) = sum_f dz[r][f] * wt[t][f][k]
// added to dx(r, t, k). TG kernel rows x NK vectors of k (at most 12 accumulators) are summed over f together:
// each f costs one broadcast and TG * NK weight loads (wt is small and stays in L1) for TG * NK independent FMA
// chains. Per dx element the additions run r in order (one kernel row of a pixel touches an element at most
// once), as the scalar kernel. Lanes beyond kc add zeros (wt is zero-padded) to the same image's dx, which only
// this thread writes; masked loads and stores (slow on Zen) only where they would leave the image.
template <int TG, int NK>
void input_grad_taps(const SmallConvArgs& p, std::int64_t r, std::int64_t t0, __m256i tail) {
  __m256 acc[TG][NK];
#pragma GCC unroll 6
  for (int t = 0; t < TG; ++t)
#pragma GCC unroll 8
    for (int v = 0; v < NK; ++v) acc[t][v] = _mm256_setzero_ps();
  const float* dz = p.dz + r * p.f;
  const std::int64_t tap_w = p.ldw * p.kcp;  // floats between kernel rows of wt
  const float* wt = p.w + t0 * tap_w;
  for (std::int64_t f = 0; f < p.f; ++f, wt += p.kcp) {
    const __m256 z = _mm256_broadcast_ss(dz + f);
#pragma GCC unroll 6
    for (int t = 0; t < TG; ++t)
#pragma GCC unroll 8
      for (int v = 0; v < NK; ++v) acc[t][v] = _mm256_fmadd_ps(z, _mm256_loadu_ps(wt + t * tap_w + 8 * v), acc[t][v]);
  }
#pragma GCC unroll 6
  for (int t = 0; t < TG; ++t) {
    const std::int64_t at = r * p.a_stride + (t0 + t) * p.tap_stride;
    float* d = p.dx + at;
    const bool full = at + 8 * NK <= p.dx_room;  // lanes beyond kc hold zeros: adding them is harmless
#pragma GCC unroll 8
    for (int v = 0; v < NK - 1; ++v) _mm256_storeu_ps(d + 8 * v, _mm256_add_ps(_mm256_loadu_ps(d + 8 * v), acc[t][v]));
    float* last = d + 8 * (NK - 1);
    if (full)
      _mm256_storeu_ps(last, _mm256_add_ps(_mm256_loadu_ps(last), acc[t][NK - 1]));
    else
      _mm256_maskstore_ps(last, tail, _mm256_add_ps(_mm256_maskload_ps(last, tail), acc[t][NK - 1]));
  }
}

// The last n < kGroup kernel rows of a pixel.
template <int TG, int NK>
void input_grad_last_taps(const SmallConvArgs& p, std::int64_t r, std::int64_t t0, std::int64_t n, __m256i tail) {
  if (n == TG) return input_grad_taps<TG, NK>(p, r, t0, tail);
  if constexpr (TG > 1) input_grad_last_taps<TG - 1, NK>(p, r, t0, n, tail);
}

template <int NK>
void input_grad_rows(const SmallConvArgs& p) {
  constexpr int kGroup = 12 / NK;
  const __m256i tail = tail_mask(p.kc - 8 * (NK - 1));
  for (std::int64_t r = 0; r < p.rows; ++r) {
    std::int64_t t0 = 0;
    for (; t0 + kGroup <= p.taps; t0 += kGroup) input_grad_taps<kGroup, NK>(p, r, t0, tail);
    if constexpr (kGroup > 1) {
      if (t0 < p.taps) input_grad_last_taps<kGroup - 1, NK>(p, r, t0, p.taps - t0, tail);
    }
  }
}

void input_grad(const SmallConvArgs& p) {
  switch ((p.kc + 7) / 8) {  // kc <= 64: at most 8 vectors
    case 1: return input_grad_rows<1>(p);
    case 2: return input_grad_rows<2>(p);
    case 3: return input_grad_rows<3>(p);
    case 4: return input_grad_rows<4>(p);
    case 5: return input_grad_rows<5>(p);
    case 6: return input_grad_rows<6>(p);
    case 7: return input_grad_rows<7>(p);
    default: return input_grad_rows<8>(p);
  }
}

}  // namespace

const SmallConvKernels& smallconv_kernels_avx2() {
  static const SmallConvKernels table{8, forward, weight_grad, input_grad};
  return table;
}

}  // namespace convlite

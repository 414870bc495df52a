// AVX2+FMA small-conv kernels for unit pixel stride (C_in = 1, stride_w = 1) with few filters (F <= 6, LeNet-5's
// first layer): the lanes hold 8 neighbouring pixels of one filter instead of the filters of one pixel, which would
// leave 8 - F lanes idle. The receptive field of pixel r, tap t, position k is a[r + t * tap_stride + k], so 8
// pixels' inputs are one unaligned load. Outputs are pixel-major (F floats per pixel): an 8x8 transpose turns them.
// (The weight gradient written the same way, dz transposed to planar blocks and F x 2 accumulators per pair of
// kernel positions, measured slower than the filter-vector tiles for LeNet's conv1: 356 against 330 us on one core;
// the lane sums per call and the transposes cost more than the idle lanes.)
#include <immintrin.h>

#include <algorithm>

#include "kernels/smallconv_kernels.hpp"

namespace convlite {
namespace {

#include "kernels/epilogue_avx2.inc"

// ---- Forward. A vector of filters would leave 8 - F lanes idle (LeNet-5's first layer, F = 6: a quarter); here
// 16 pixels of one filter fill two vectors, F x 2 accumulators, and each (tap, position) costs two input loads and
// F weight broadcasts for 2F multiply-adds. Every pixel's sum runs the same taps and positions in the same order
// with the same fma as smallconv_unit_avx2.cpp's forward_tile, so the bits are the same. The accumulators are
// turned to pixel-major order by an 8x8 transpose (filters F..7 zero) and stored pixel by pixel, each pixel's
// excess lanes landing on the next pixel, stored after it; the row's last pixel is a masked store.
__attribute__((always_inline)) inline void transpose8(__m256 r[8]) {
  const __m256 t0 = _mm256_unpacklo_ps(r[0], r[1]), t1 = _mm256_unpackhi_ps(r[0], r[1]);
  const __m256 t2 = _mm256_unpacklo_ps(r[2], r[3]), t3 = _mm256_unpackhi_ps(r[2], r[3]);
  const __m256 t4 = _mm256_unpacklo_ps(r[4], r[5]), t5 = _mm256_unpackhi_ps(r[4], r[5]);
  const __m256 t6 = _mm256_unpacklo_ps(r[6], r[7]), t7 = _mm256_unpackhi_ps(r[6], r[7]);
  const __m256 s0 = _mm256_shuffle_ps(t0, t2, 0x44), s1 = _mm256_shuffle_ps(t0, t2, 0xEE);
  const __m256 s2 = _mm256_shuffle_ps(t1, t3, 0x44), s3 = _mm256_shuffle_ps(t1, t3, 0xEE);
  const __m256 s4 = _mm256_shuffle_ps(t4, t6, 0x44), s5 = _mm256_shuffle_ps(t4, t6, 0xEE);
  const __m256 s6 = _mm256_shuffle_ps(t5, t7, 0x44), s7 = _mm256_shuffle_ps(t5, t7, 0xEE);
  r[0] = _mm256_permute2f128_ps(s0, s4, 0x20), r[1] = _mm256_permute2f128_ps(s1, s5, 0x20);
  r[2] = _mm256_permute2f128_ps(s2, s6, 0x20), r[3] = _mm256_permute2f128_ps(s3, s7, 0x20);
  r[4] = _mm256_permute2f128_ps(s0, s4, 0x31), r[5] = _mm256_permute2f128_ps(s1, s5, 0x31);
  r[6] = _mm256_permute2f128_ps(s2, s6, 0x31), r[7] = _mm256_permute2f128_ps(s3, s7, 0x31);
}

template <int F>
void forward_pixels_block(const SmallConvArgs& p, std::int64_t r0) {
  __m256 acc[F][2];
#pragma GCC unroll 6
  for (int f = 0; f < F; ++f) acc[f][0] = acc[f][1] = _mm256_setzero_ps();
  const float* w = p.w;
  for (std::int64_t t = 0; t < p.taps; ++t) {
    const float* a = p.a + r0 + t * p.tap_stride;
    for (std::int64_t k = 0; k < p.kc; ++k, w += p.ldw) {
      const __m256 x0 = _mm256_loadu_ps(a + k), x1 = _mm256_loadu_ps(a + k + 8);
#pragma GCC unroll 6
      for (int f = 0; f < F; ++f) {
        const __m256 wf = _mm256_broadcast_ss(w + f);
        acc[f][0] = _mm256_fmadd_ps(x0, wf, acc[f][0]);
        acc[f][1] = _mm256_fmadd_ps(x1, wf, acc[f][1]);
      }
    }
  }
  const float* bias = p.bias;
  const int activation = p.activation;
  const __m256 slope = _mm256_set1_ps(p.negative_slope);
  const std::int64_t rows = p.rows;
  const __m256i last_lanes = tail_mask(F);
#pragma GCC unroll 2
  for (int h = 0; h < 2; ++h) {
    __m256 r[8];
#pragma GCC unroll 8
    for (int f = 0; f < 8; ++f) {
      if (f >= F) {
        r[f] = _mm256_setzero_ps();
        continue;
      }
      __m256 o = acc[f][h];
      if (bias) o = _mm256_add_ps(o, _mm256_broadcast_ss(bias + f));
      r[f] = activation ? activate(o, activation, slope) : o;
    }
    transpose8(r);
    float* y = p.y + (r0 + 8 * h) * F;
#pragma GCC unroll 8
    for (int i = 0; i < 8; ++i, y += F) {
      if ((rows - r0 - 8 * h - i) * F >= 8)
        _mm256_storeu_ps(y, r[i]);
      else
        _mm256_maskstore_ps(y, last_lanes, r[i]);
    }
  }
}

template <int F>
void forward_pixels(const SmallConvArgs& p) {
  for (std::int64_t r0 = 0; r0 < p.rows; r0 += 16) forward_pixels_block<F>(p, std::min(r0, p.rows - 16));
}

}  // namespace

bool smallconv_pixels_forward_avx2(const SmallConvArgs& p) {
  if (p.a_stride != 1 || p.rows < 16) return false;  // at least one 16-pixel block per row
  switch (p.f) {
    case 1: return forward_pixels<1>(p), true;
    case 2: return forward_pixels<2>(p), true;
    case 3: return forward_pixels<3>(p), true;
    case 4: return forward_pixels<4>(p), true;
    case 5: return forward_pixels<5>(p), true;
    case 6: return forward_pixels<6>(p), true;
    default: return false;
  }
}

}  // namespace convlite

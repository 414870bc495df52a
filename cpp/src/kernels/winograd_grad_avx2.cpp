// AVX2+FMA Winograd weight-gradient kernels. The gradient transform repeats the scalar additions lane by lane (8
// filters at a time). The reduction is a 6 x 16 register tile (channels x filters, 12 accumulators) streaming the
// tiles: per tile 6 broadcasts of V and 2 loads of dM feed 12 FMAs, the shape of the GEMM microkernel with the
// long dimension inside.
#include <immintrin.h>

#include <algorithm>

#include "kernels/winograd_grad_kernels.hpp"

namespace convlite {
namespace {

#include "kernels/epilogue_avx2.inc"

__m256 load(const float* p, std::int64_t f, std::int64_t n, __m256i lanes) {
  if (!p) return _mm256_setzero_ps();
  return f + 8 <= n ? _mm256_loadu_ps(p + f) : _mm256_maskload_ps(p + f, lanes);
}

void grad_tile(const float* const* dz, std::int64_t n, std::int64_t n_padded, float* dm, std::int64_t dm_stride) {
  for (std::int64_t f = 0; f < n_padded; f += 8) {
    if (f >= n) {  // padding lanes: zeros, as the scalar kernel
      for (int e = 0; e < 16; ++e) _mm256_storeu_ps(dm + e * dm_stride + f, _mm256_setzero_ps());
      continue;
    }
    const __m256i lanes = tail_mask(n - f);
    const __m256 d00 = load(dz[0], f, n, lanes), d01 = load(dz[1], f, n, lanes);
    const __m256 d10 = load(dz[2], f, n, lanes), d11 = load(dz[3], f, n, lanes);
    const __m256 zero = _mm256_setzero_ps();
    const __m256 r0[4] = {d00, _mm256_add_ps(d00, d01), _mm256_sub_ps(d00, d01), _mm256_sub_ps(zero, d01)};
    const __m256 r1[4] = {d10, _mm256_add_ps(d10, d11), _mm256_sub_ps(d10, d11), _mm256_sub_ps(zero, d11)};
    for (int j = 0; j < 4; ++j) {
      _mm256_storeu_ps(dm + (0 + j) * dm_stride + f, r0[j]);
      _mm256_storeu_ps(dm + (4 + j) * dm_stride + f, _mm256_add_ps(r0[j], r1[j]));
      _mm256_storeu_ps(dm + (8 + j) * dm_stride + f, _mm256_sub_ps(r0[j], r1[j]));
      _mm256_storeu_ps(dm + (12 + j) * dm_stride + f, _mm256_sub_ps(zero, r1[j]));
    }
  }
}

// Channels c0..c0+R-1 x filters f0..f0+15 (lanes beyond f_count are computed from dm's readable padding and
// stored into u's padding).
template <int R>
void reduce_tile(const float* v, std::int64_t ldv, const float* dm, std::int64_t ldm, std::int64_t tiles,
                 std::int64_t f_count, std::int64_t f0, float* u, std::int64_t ldu) {
  __m256 acc[R][2];
#pragma GCC unroll 6
  for (int r = 0; r < R; ++r) acc[r][0] = acc[r][1] = _mm256_setzero_ps();
  const float* d = dm + f0;
  for (std::int64_t t = 0; t < tiles; ++t, v += ldv, d += ldm) {
    const __m256 z0 = _mm256_loadu_ps(d), z1 = _mm256_loadu_ps(d + 8);
#pragma GCC unroll 6
    for (int r = 0; r < R; ++r) {
      const __m256 a = _mm256_broadcast_ss(v + r);
      acc[r][0] = _mm256_fmadd_ps(a, z0, acc[r][0]);
      acc[r][1] = _mm256_fmadd_ps(a, z1, acc[r][1]);
    }
  }
  const __m256i lanes0 = tail_mask(f_count - f0), lanes1 = tail_mask(f_count - f0 - 8);
#pragma GCC unroll 6
  for (int r = 0; r < R; ++r) {
    float* o = u + r * ldu + f0;
    if (f0 + 16 <= f_count) {
      _mm256_storeu_ps(o, _mm256_add_ps(_mm256_loadu_ps(o), acc[r][0]));
      _mm256_storeu_ps(o + 8, _mm256_add_ps(_mm256_loadu_ps(o + 8), acc[r][1]));
    } else {
      _mm256_maskstore_ps(o, lanes0, _mm256_add_ps(_mm256_maskload_ps(o, lanes0), acc[r][0]));
      _mm256_maskstore_ps(o + 8, lanes1, _mm256_add_ps(_mm256_maskload_ps(o + 8, lanes1), acc[r][1]));
    }
  }
}

void reduce(const float* v, std::int64_t ldv, const float* dm, std::int64_t ldm, std::int64_t tiles,
            std::int64_t c_count, std::int64_t f_count, float* u, std::int64_t ldu) {
  // Channel groups of near-equal size <= 6 (32 channels as 6,5,5,5,5,6: no thin tail of latency-bound rows).
  const std::int64_t groups = (c_count + 5) / 6;
  for (std::int64_t g = 0; g < groups; ++g) {
    const std::int64_t c0 = c_count * g / groups, rows = c_count * (g + 1) / groups - c0;
    for (std::int64_t f0 = 0; f0 < f_count; f0 += 16) {
      const float* vc = v + c0;
      float* uc = u + c0 * ldu;
      switch (rows) {
        case 1: reduce_tile<1>(vc, ldv, dm, ldm, tiles, f_count, f0, uc, ldu); break;
        case 2: reduce_tile<2>(vc, ldv, dm, ldm, tiles, f_count, f0, uc, ldu); break;
        case 3: reduce_tile<3>(vc, ldv, dm, ldm, tiles, f_count, f0, uc, ldu); break;
        case 4: reduce_tile<4>(vc, ldv, dm, ldm, tiles, f_count, f0, uc, ldu); break;
        case 5: reduce_tile<5>(vc, ldv, dm, ldm, tiles, f_count, f0, uc, ldu); break;
        default: reduce_tile<6>(vc, ldv, dm, ldm, tiles, f_count, f0, uc, ldu); break;
      }
    }
  }
}

constexpr WinogradGradKernels kAvx2Table = {&grad_tile, &reduce, &winograd_grad_tile6_avx2,
                                             &winograd_dx_tile6_avx2};

}  // namespace

const WinogradGradKernels& winograd_grad_kernels_avx2() { return kAvx2Table; }

}  // namespace convlite

// Scalar F(4x4, 3x3) gradient transforms: dM = A dY A^T with the forward's points (0, 1, -1, 1/2, -2, infinity;
// kernels/winograd4_math.inc), shared by the weight gradient and the input gradient over dy's tiles, and the
// latter's P = B dV B^T. They define the semantics (compiled with -ffp-contract=off; the multiply-adds are explicit
// std::fma, which the AVX2 file repeats lane by lane).
#include <cmath>

#include "kernels/winograd_grad_kernels.hpp"

namespace convlite {
namespace {

// One 1D transform, m = A g with A = (A^T)^T: four values in, six out.
void grad_1d(const float g[4], float m[6]) {
  const float even = g[0] + g[2], odd = g[1] + g[3];
  const float quarter = std::fma(0.25f, g[2], g[0]), eighth = 0.5f * std::fma(0.25f, g[3], g[1]);
  const float four = std::fma(4.0f, g[2], g[0]), eight = 2.0f * std::fma(4.0f, g[3], g[1]);
  m[0] = g[0];
  m[1] = even + odd;
  m[2] = even - odd;
  m[3] = quarter + eighth;  // g0 + g1/2 + g2/4 + g3/8
  m[4] = four - eight;      // g0 - 2 g1 + 4 g2 - 8 g3
  m[5] = g[3];
}

// One 1D transform d = B r, the adjoint of the forward's input_row4 (B^T in winograd4_math.inc): with
// s = r1 + r2 and t = r1 - r2,
//   d0 = r0                                   d3 = -(3 t + r5 + d1) = 3/2 r0 - 5 r1 + r2 - 2 r3 - r4 - 2 r5
//   d1 = -3/2 r0 + 2 (s + r3) + r4 + r5       d4 = r0 - r3 + 2 (r4 - t) + 3/2 r5
//   d2 = -(3 s + r0 + d4)                     d5 = r5
void dx_1d(const float r[6], float d[6]) {
  const float s = r[1] + r[2], t = r[1] - r[2];
  const float d1 = std::fma(-1.5f, r[0], std::fma(2.0f, s + r[3], r[4] + r[5]));
  const float d4 = std::fma(1.5f, r[5], std::fma(2.0f, r[4] - t, r[0] - r[3]));
  d[0] = r[0];
  d[1] = d1;
  d[2] = -std::fma(3.0f, s, r[0] + d4);
  d[3] = -std::fma(3.0f, t, r[5] + d1);
  d[4] = d4;
  d[5] = r[5];
}

}  // namespace

void winograd_dx_tile6_scalar(const float* dv, std::int64_t dv_stride, std::int64_t n, float* const* dx,
                              std::uint64_t accumulate) {
  for (std::int64_t c = 0; c < n; ++c) {
    float cols[36];  // B dV: cols[a * 6 + j]
    for (int j = 0; j < 6; ++j) {
      float r[6], d[6];
      for (int i = 0; i < 6; ++i) r[i] = dv[(i * 6 + j) * dv_stride + c];
      dx_1d(r, d);
      for (int a = 0; a < 6; ++a) cols[a * 6 + j] = d[a];
    }
    for (int a = 0; a < 6; ++a) {  // (B dV) B^T, row by row
      float d[6];
      dx_1d(cols + a * 6, d);
      for (int b = 0; b < 6; ++b) {
        float* dst = dx[a * 6 + b];
        if (!dst) continue;
        dst[c] = (accumulate >> (a * 6 + b)) & 1u ? dst[c] + d[b] : d[b];
      }
    }
  }
}

void winograd_grad_tile6_scalar(const float* const* dz, std::int64_t n, std::int64_t n_padded, float* dm,
                                std::int64_t dm_stride) {
  for (std::int64_t f = 0; f < n; ++f) {
    float rows[24];  // dY A^T: 4 rows of 6
    for (int a = 0; a < 4; ++a) {
      const float g[4] = {dz[a * 4] ? dz[a * 4][f] : 0.0f, dz[a * 4 + 1] ? dz[a * 4 + 1][f] : 0.0f,
                          dz[a * 4 + 2] ? dz[a * 4 + 2][f] : 0.0f, dz[a * 4 + 3] ? dz[a * 4 + 3][f] : 0.0f};
      grad_1d(g, rows + a * 6);
    }
    for (int j = 0; j < 6; ++j) {  // A (dY A^T), column by column
      const float col[4] = {rows[j], rows[6 + j], rows[12 + j], rows[18 + j]};
      float out[6];
      grad_1d(col, out);
      for (int i = 0; i < 6; ++i) dm[(i * 6 + j) * dm_stride + f] = out[i];
    }
  }
  for (int e = 0; e < 36; ++e)
    for (std::int64_t f = n; f < n_padded; ++f) dm[e * dm_stride + f] = 0.0f;
}

}  // namespace convlite

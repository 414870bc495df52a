// Scalar F(4x4, 3x3) transforms of the Winograd weight gradient: define the semantics (compiled with
// -ffp-contract=off; the multiply-adds are explicit std::fma, which the AVX2 file repeats lane by lane).
#include <cmath>

#include "kernels/winograd_grad_kernels.hpp"

namespace convlite {
namespace {

// One 1D input transform (a row or a column of B^T d): six values in, six out.
void input_1d(const float d[6], float v[6]) {
  const float t0 = std::fma(-4.0f, d[2], d[4]), t1 = std::fma(-4.0f, d[1], d[3]);  // d4 - 4 d2, d3 - 4 d1
  const float t2 = d[4] - d[2], t3 = 2.0f * (d[3] - d[1]);
  v[0] = std::fma(-5.0f, d[2], std::fma(4.0f, d[0], d[4]));
  v[1] = t0 + t1;
  v[2] = t0 - t1;
  v[3] = t2 + t3;
  v[4] = t2 - t3;
  v[5] = std::fma(-5.0f, d[3], std::fma(4.0f, d[1], d[5]));
}

// One 1D gradient transform (A g): four values in, six out.
void grad_1d(const float g[4], float m[6]) {
  const float even = g[0] + g[2], odd = g[1] + g[3];
  const float even4 = std::fma(4.0f, g[2], g[0]), odd4 = 2.0f * std::fma(4.0f, g[3], g[1]);
  m[0] = g[0];
  m[1] = even + odd;
  m[2] = even - odd;
  m[3] = even4 + odd4;
  m[4] = even4 - odd4;
  m[5] = g[3];
}

}  // namespace

void winograd_input_tile6_scalar(const float* const* d, std::int64_t channels, float* v, std::int64_t v_stride) {
  for (std::int64_t k = 0; k < channels; ++k) {
    float rows[36];
    for (int i = 0; i < 6; ++i) {  // d B, row by row
      const float in[6] = {d[i * 6][k], d[i * 6 + 1][k], d[i * 6 + 2][k], d[i * 6 + 3][k], d[i * 6 + 4][k],
                           d[i * 6 + 5][k]};
      input_1d(in, rows + i * 6);
    }
    for (int j = 0; j < 6; ++j) {  // B^T (d B), column by column
      const float col[6] = {rows[j], rows[6 + j], rows[12 + j], rows[18 + j], rows[24 + j], rows[30 + j]};
      float out[6];
      input_1d(col, out);
      for (int i = 0; i < 6; ++i) v[(i * 6 + j) * v_stride + k] = out[i];
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

// Scalar F(4x4, 3x3) gradient transform of the Winograd weight gradient, dM = A dY A^T with the forward's points
// (0, 1, -1, 1/2, -2, infinity; kernels/winograd4_math.inc): defines the semantics (compiled with
// -ffp-contract=off; the multiply-adds are explicit std::fma, which the AVX2 file repeats lane by lane).
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

}  // namespace

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

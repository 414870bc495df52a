// Scalar Winograd weight-gradient kernels: define the semantics (compiled with -ffp-contract=off). The gradient
// transform's additions are the order the SIMD file repeats lane by lane; the reduction sums tiles in order.
#include "kernels/winograd_grad_kernels.hpp"

namespace convlite {
namespace {

void grad_tile(const float* const* dz, std::int64_t n, std::int64_t n_padded, float* dm, std::int64_t dm_stride) {
  for (std::int64_t f = 0; f < n; ++f) {
    const float d00 = dz[0] ? dz[0][f] : 0.0f, d01 = dz[1] ? dz[1][f] : 0.0f;
    const float d10 = dz[2] ? dz[2][f] : 0.0f, d11 = dz[3] ? dz[3][f] : 0.0f;
    // dY A^T, row by row: row a of (4 columns) = (d_a0, d_a0 + d_a1, d_a0 - d_a1, -d_a1).
    const float r0[4] = {d00, d00 + d01, d00 - d01, -d01};
    const float r1[4] = {d10, d10 + d11, d10 - d11, -d11};
    for (int j = 0; j < 4; ++j) {  // A (dY A^T), column by column
      dm[(0 + j) * dm_stride + f] = r0[j];
      dm[(4 + j) * dm_stride + f] = r0[j] + r1[j];
      dm[(8 + j) * dm_stride + f] = r0[j] - r1[j];
      dm[(12 + j) * dm_stride + f] = -r1[j];
    }
  }
  for (int e = 0; e < 16; ++e)
    for (std::int64_t f = n; f < n_padded; ++f) dm[e * dm_stride + f] = 0.0f;
}

void reduce(const float* v, std::int64_t ldv, const float* dm, std::int64_t ldm, std::int64_t tiles,
            std::int64_t c_count, std::int64_t f_count, float* u, std::int64_t ldu) {
  for (std::int64_t c = 0; c < c_count; ++c)
    for (std::int64_t f = 0; f < f_count; ++f) {
      float acc = 0.0f;
      for (std::int64_t t = 0; t < tiles; ++t) acc += v[t * ldv + c] * dm[t * ldm + f];
      u[c * ldu + f] += acc;
    }
}

constexpr WinogradGradKernels kScalarTable = {&grad_tile, &reduce, &winograd_grad_tile6_scalar,
                                               &winograd_dx_tile6_scalar};

}  // namespace

const WinogradGradKernels& winograd_grad_kernels_scalar() { return kScalarTable; }

}  // namespace convlite

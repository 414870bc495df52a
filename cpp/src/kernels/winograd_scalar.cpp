// Scalar Winograd F(2x2, 3x3) and F(4x4, 3x3) (winograd4_math.inc) transforms: they define the order of the
// operations that the SIMD files repeat lane by lane (so the transforms are bit-identical across ISAs).
#include <cmath>

#include "kernels/winograd_kernels.hpp"

namespace convlite {
namespace {

#include "kernels/epilogue_scalar.inc"

void input_tile(const float* const* d, std::int64_t channels, float* v, std::int64_t v_stride) {
  for (std::int64_t k = 0; k < channels; ++k) {
    float r[16];
    for (int i = 0; i < 4; ++i) {  // d B, row by row
      const float d0 = d[i * 4 + 0][k], d1 = d[i * 4 + 1][k], d2 = d[i * 4 + 2][k], d3 = d[i * 4 + 3][k];
      r[i * 4 + 0] = d0 - d2;
      r[i * 4 + 1] = d1 + d2;
      r[i * 4 + 2] = d2 - d1;
      r[i * 4 + 3] = d1 - d3;
    }
    for (int j = 0; j < 4; ++j) {  // B^T (d B), column by column
      const float r0 = r[0 + j], r1 = r[4 + j], r2 = r[8 + j], r3 = r[12 + j];
      v[(0 + j) * v_stride + k] = r0 - r2;
      v[(4 + j) * v_stride + k] = r1 + r2;
      v[(8 + j) * v_stride + k] = r2 - r1;
      v[(12 + j) * v_stride + k] = r1 - r3;
    }
  }
}

void output_tile(const float* m, std::int64_t m_stride, std::int64_t n, const float* bias, float* const* y,
                 int activation, float slope) {
  for (std::int64_t f = 0; f < n; ++f) {
    float s[8];
    for (int i = 0; i < 4; ++i) {  // M A, row by row
      const float m0 = m[(i * 4 + 0) * m_stride + f], m1 = m[(i * 4 + 1) * m_stride + f];
      const float m2 = m[(i * 4 + 2) * m_stride + f], m3 = m[(i * 4 + 3) * m_stride + f];
      s[i * 2 + 0] = (m0 + m1) + m2;
      s[i * 2 + 1] = (m1 - m2) - m3;
    }
    for (int j = 0; j < 2; ++j) {  // A^T (M A)
      const float s0 = s[0 + j], s1 = s[2 + j], s2 = s[4 + j], s3 = s[6 + j];
      const float o0 = (s0 + s1) + s2, o1 = (s1 - s2) - s3;
      const float b = bias ? bias[f] : 0.0f;  // added only when present: no -0 -> +0 change without bias
      if (y[0 + j]) y[0 + j][f] = activate(bias ? o0 + b : o0, activation, slope);
      if (y[2 + j]) y[2 + j][f] = activate(bias ? o1 + b : o1, activation, slope);
    }
  }
}

#include "kernels/vec_scalar.inc"

#include "kernels/winograd4_math.inc"

constexpr WinogradKernels kScalarTable = {&input_tile, &output_tile, &input_tile4, &output_tile4};

}  // namespace

const WinogradKernels& winograd_kernels_scalar() { return kScalarTable; }

}  // namespace convlite

// The Winograd weight transform U = G g G^T of conv_winograd.cpp's engine, for tiles of 2 (G 4x3) and 4 (G 6x3),
// in double and rounded to float once, written straight into the GEMM microkernel's packed-B panels.
#include <vector>

#include "convlite/parallel.hpp"
#include "ops/conv_winograd.hpp"

namespace convlite::winograd {
namespace {

// F(2x2, 3x3): points 0, 1, -1, infinity (B^T and A^T in kernels/winograd_kernels.hpp).
constexpr double kG2[4][3] = {{1.0, 0.0, 0.0}, {0.5, 0.5, 0.5}, {0.5, -0.5, 0.5}, {0.0, 0.0, 1.0}};
// F(4x4, 3x3): points 0, 1, -1, 1/2, -2, infinity, rows scaled to match B^T and A^T in kernels/winograd4_math.inc.
constexpr double kG4[6][3] = {{1.0, 0.0, 0.0},
                              {-1.0 / 6.0, -1.0 / 6.0, -1.0 / 6.0},
                              {-1.0 / 6.0, 1.0 / 6.0, -1.0 / 6.0},
                              {16.0 / 15.0, 8.0 / 15.0, 4.0 / 15.0},
                              {1.0 / 30.0, -1.0 / 15.0, 2.0 / 15.0},
                              {0.0, 0.0, 1.0}};

}  // namespace

void transform_weights(const float* w, std::int64_t kdim, std::int64_t ndim, bool flip_transpose, std::int64_t nr,
                       int tile, float* u) {
  const int alpha = tile + 2, elements = alpha * alpha;
  const double* gm = tile == 4 ? &kG4[0][0] : &kG2[0][0];  // alpha x 3, row-major
  const std::int64_t panels = (ndim + nr - 1) / nr, np = panels * nr;
  const std::int64_t c = flip_transpose ? ndim : kdim, f = flip_transpose ? kdim : ndim;  // w is (3, 3, c, f)
  parallel_for(kdim, 7.5 * elements * static_cast<double>(np), [&](std::int64_t k0, std::int64_t k1) {
    std::vector<double> g(9 * np, 0.0), gg(3 * alpha * np), out(elements * np);
    for (std::int64_t k = k0; k < k1; ++k) {
      for (int t = 0; t < 9; ++t) {  // g[t][n], t = i * 3 + j
        const std::int64_t tap = flip_transpose ? 8 - t : t;
        double* gt = g.data() + t * np;
        if (flip_transpose)
          for (std::int64_t n = 0; n < ndim; ++n) gt[n] = w[(tap * c + n) * f + k];
        else
          for (std::int64_t n = 0; n < ndim; ++n) gt[n] = w[(tap * c + k) * f + n];
      }
      // G g (alpha x 3), then (G g) G^T (alpha x alpha); zero coefficients skipped. n innermost: vectorised.
      for (int a = 0; a < alpha; ++a)
        for (int j = 0; j < 3; ++j) {
          double* r = gg.data() + (a * 3 + j) * np;
          for (std::int64_t n = 0; n < np; ++n) r[n] = 0.0;
          for (int i = 0; i < 3; ++i) {
            const double coef = gm[a * 3 + i];
            if (coef == 0.0) continue;
            const double* gi = g.data() + (i * 3 + j) * np;
            for (std::int64_t n = 0; n < np; ++n) r[n] += coef * gi[n];
          }
        }
      for (int a = 0; a < alpha; ++a)
        for (int b = 0; b < alpha; ++b) {
          double* o = out.data() + (a * alpha + b) * np;
          for (std::int64_t n = 0; n < np; ++n) o[n] = 0.0;
          for (int j = 0; j < 3; ++j) {
            const double coef = gm[b * 3 + j];
            if (coef == 0.0) continue;
            const double* r = gg.data() + (a * 3 + j) * np;
            for (std::int64_t n = 0; n < np; ++n) o[n] += coef * r[n];
          }
        }
      for (int e = 0; e < elements; ++e)
        for (std::int64_t p = 0; p < panels; ++p) {
          float* dst = u + ((e * panels + p) * kdim + k) * nr;
          const double* src = out.data() + e * np + p * nr;
          for (std::int64_t j = 0; j < nr; ++j) dst[j] = static_cast<float>(src[j]);
        }
    }
  });
}

}  // namespace convlite::winograd

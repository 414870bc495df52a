// The Winograd weight transform U = G g G^T of conv_winograd.cpp's engine, for tiles of 2 (G 4x3) and 4 (G 6x3),
// in double and rounded to float once, written straight into the GEMM microkernel's packed-B panels.
#include <algorithm>

#include "convlite/parallel.hpp"
#include "ops/conv_winograd.hpp"

namespace convlite::winograd {
namespace {

constexpr int kMaxNr = 64;

// The 1D transform o = G (a, b, c) of the taps for kNr columns at once (j innermost: vectorised), t = a + c shared
// by the +-1 points; o[r] is at o + r * step.
// F(2x2, 3x3), points 0, 1, -1, infinity: G = [1 0 0; 1/2 1/2 1/2; 1/2 -1/2 1/2; 0 0 1].
// F(4x4, 3x3), points 0, 1, -1, 1/2, -2, infinity, rows scaled to match B^T and A^T in kernels/winograd4_math.inc:
// G = [1 0 0; -1/6 -1/6 -1/6; -1/6 1/6 -1/6; 16/15 8/15 4/15; 1/30 -1/15 2/15; 0 0 1].
template <int kTile>
void taps(const double* a, const double* b, const double* c, double* o, std::int64_t step, std::int64_t nr) {
  for (std::int64_t j = 0; j < nr; ++j) {
    const double t = a[j] + c[j];
    o[j] = a[j];
    if constexpr (kTile == 4) {
      o[step + j] = (t + b[j]) * (-1.0 / 6.0);
      o[2 * step + j] = (t - b[j]) * (-1.0 / 6.0);
      o[3 * step + j] = (16.0 * a[j] + 8.0 * b[j] + 4.0 * c[j]) * (1.0 / 15.0);
      o[4 * step + j] = (a[j] - 2.0 * b[j] + 4.0 * c[j]) * (1.0 / 30.0);
      o[5 * step + j] = c[j];
    } else {
      o[step + j] = 0.5 * (t + b[j]);
      o[2 * step + j] = 0.5 * (t - b[j]);
      o[3 * step + j] = c[j];
    }
  }
}

// U = G g G^T for every (k, n) of the kernel, a panel of nr columns n at a time: rows of g first, then columns.
template <int kTile>
void transform_all(const float* w, std::int64_t kdim, std::int64_t ndim, bool flip_transpose, std::int64_t nr,
                   float* u) {
  constexpr int alpha = kTile + 2, elements = alpha * alpha;
  const std::int64_t panels = (ndim + nr - 1) / nr;
  const std::int64_t c = flip_transpose ? ndim : kdim, f = flip_transpose ? kdim : ndim;  // w is (3, 3, c, f)
  parallel_for(kdim, 4.0 * elements * static_cast<double>(panels * nr), [&](std::int64_t k0, std::int64_t k1) {
    double g[9 * kMaxNr], h[3 * alpha * kMaxNr], out[elements * kMaxNr];  // [tap][j], [i][b][j], [a][b][j]
    for (std::int64_t k = k0; k < k1; ++k)
      for (std::int64_t p = 0; p < panels; ++p) {
        const std::int64_t live = std::min(nr, ndim - p * nr);
        for (int t = 0; t < 9; ++t) {  // t = i * 3 + j of the (flipped) kernel
          double* gt = g + t * nr;
          for (std::int64_t j = 0; j < live; ++j) {
            const std::int64_t n = p * nr + j;
            gt[j] = flip_transpose ? w[((8 - t) * c + n) * f + k] : w[(t * c + k) * f + n];
          }
          for (std::int64_t j = live; j < nr; ++j) gt[j] = 0.0;
        }
        for (int i = 0; i < 3; ++i)  // h[i][b] = (G g[i][:])[b]
          taps<kTile>(g + (i * 3) * nr, g + (i * 3 + 1) * nr, g + (i * 3 + 2) * nr, h + i * alpha * nr, nr, nr);
        for (int b = 0; b < alpha; ++b)  // out[:, b] = G h[:, b]
          taps<kTile>(h + b * nr, h + (alpha + b) * nr, h + (2 * alpha + b) * nr, out + b * nr, alpha * nr, nr);
        for (int e = 0; e < elements; ++e) {
          float* dst = u + ((e * panels + p) * kdim + k) * nr;
          for (std::int64_t j = 0; j < nr; ++j) dst[j] = static_cast<float>(out[e * nr + j]);
        }
      }
  });
}

}  // namespace

void transform_weights(const float* w, std::int64_t kdim, std::int64_t ndim, bool flip_transpose, std::int64_t nr,
                       int tile, float* u) {
  if (tile == 4) transform_all<4>(w, kdim, ndim, flip_transpose, nr, u);
  else transform_all<2>(w, kdim, ndim, flip_transpose, nr, u);
}

}  // namespace convlite::winograd

// sgemm: C = op(A) * op(B) + beta * C on the shared driver. B is packed once into NR panels; A rows are read in
// place (row pointers) or, when transposed, packed per tile into an MR-panel.
#include <algorithm>
#include <vector>

#include "convlite/conv.hpp"
#include "gemm/gemm_driver.hpp"

namespace convlite {

void sgemm(bool transpose_a, bool transpose_b, std::int64_t m, std::int64_t n, std::int64_t k, const float* a,
           std::int64_t lda, const float* b, std::int64_t ldb, float beta, float* c, std::int64_t ldc) {
  if (m <= 0 || n <= 0) return;
  if (k <= 0) {
    for (std::int64_t i = 0; i < m; ++i)
      for (std::int64_t j = 0; j < n; ++j) c[i * ldc + j] = beta == 0.0f ? 0.0f : beta * c[i * ldc + j];
    return;
  }
  const std::int64_t mr = gemm::kernels().mr;
  gemm::PackedB packed;
  gemm::pack_b(packed, b, k, n, transpose_b ? 1 : ldb, transpose_b ? ldb : 1);
  gemm::Buffer zeros(k);
  const float* zero_row = zeros.data();
  gemm::IndirectProblem p;
  p.m = m;
  p.kc = k;
  p.b = &packed;
  p.beta = beta;
  p.a_step = transpose_a ? mr : 1;
  p.scratch_per_tile = transpose_a ? k * mr : 0;
  gemm::indirect_gemm(p, [&](std::int64_t m0, std::int64_t mv, const float** rows, std::int64_t* tap_of,
                             float** c_rows, float* scratch) {
    tap_of[0] = 0;
    for (std::int64_t r = 0; r < mv; ++r) c_rows[r] = c + (m0 + r) * ldc;
    if (!transpose_a) {
      for (std::int64_t r = 0; r < mr; ++r) rows[r] = r < mv ? a + (m0 + r) * lda : zero_row;
    } else {
      for (std::int64_t kk = 0; kk < k; ++kk) {
        const float* src = a + kk * lda + m0;
        float* dst = scratch + kk * mr;
        std::int64_t r = 0;
        for (; r < mv; ++r) dst[r] = src[r];
        for (; r < mr; ++r) dst[r] = 0.0f;
      }
      for (std::int64_t r = 0; r < mr; ++r) rows[r] = scratch + r;
    }
    return std::int64_t{1};
  });
}

}  // namespace convlite

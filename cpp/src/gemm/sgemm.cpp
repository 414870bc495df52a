// sgemm: C = op(A) * op(B) + beta * C on the shared driver, BLIS style: B packed once into NR-column panels, A
// packed per MC x KC block into MR-row panels (also what makes a transposed A cheap). Few rows of a plain A go to
// the small-M driver instead (A packed once, B packed a few micro-panels at a time by the thread that uses them).
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
  if (!transpose_a && gemm::small_m_fits(m, k)) {  // few rows: B read in place, threads split its columns
    gemm::small_m_gemm(m, n, k, a, lda, b, transpose_b ? 1 : ldb, transpose_b ? ldb : 1, c, ldc, nullptr, 0, 0.0f,
                       beta);
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
  p.a_step = transpose_a ? lda : 1;  // a transposed A is read down its columns while it is packed
  p.pack_a = true;
  p.kc_block = gemm::kPackedKc;
  gemm::indirect_gemm(p, [&](std::int64_t m0, std::int64_t mv, const float** rows, std::int64_t* tap_of,
                             float** c_rows, float*) {
    tap_of[0] = 0;
    for (std::int64_t r = 0; r < mv; ++r) c_rows[r] = c + (m0 + r) * ldc;
    for (std::int64_t r = 0; r < mr; ++r) rows[r] = r < mv ? (transpose_a ? a + m0 + r : a + (m0 + r) * lda) : zero_row;
    return std::int64_t{1};
  });
}

}  // namespace convlite

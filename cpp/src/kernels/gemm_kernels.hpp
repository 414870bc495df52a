// The GEMM family's kernel table: one register-blocked microkernel per ISA (gemm_<isa>.cpp, internal linkage;
// only the getter is exported). Every GEMM-shaped op (sgemm, dense, conv forward/backward) drives it.
#pragma once
#include <cstdint>

namespace convlite {

// One mr x nr output tile: C = act(beta * C + sum_t sum_k A_t[r][k] * B_t[k][j] + bias[j]).
// A is indirect: row r of tap t starts at a[t*mr + r] and steps by a_step floats per k (1 for a row of an
// NHWC tensor, mr for a packed MR-panel whose row r starts at panel + r). Pointers of rows >= mv must still be
// readable (the driver points them at zeros). B_t is packed: kc rows of nr floats (zero-padded columns).
// Rows >= mv and columns >= nv are never written; C is read only when beta != 0; bias has nr readable floats.
struct MicroTile {
  std::int64_t taps = 1;
  std::int64_t kc = 0;
  const float* const* a = nullptr;
  std::int64_t a_step = 1;
  const float* const* b = nullptr;
  float* const* c = nullptr;
  std::int64_t mv = 0, nv = 0;
  float beta = 0.0f;
  const float* bias = nullptr;
  int activation = 0;  // FusedActivation: 0 none, 1 relu, 2 leaky_relu
  float negative_slope = 0.0f;
};

// How tile_stream gets B. src null: B is packed at t.b[0], as for `tile`. Otherwise B row k is read in place at
// src + k * src_stride (all nr floats readable: a full panel of a row-major B) and also stored to pack + k * nr,
// so the first row tile of a micro-panel packs it while it uses it and the others then read the packed copy: the
// strided read of B overlaps FMAs instead of being a pass of its own.
// prefetch_rows rows at prefetch + r * prefetch_stride (nr floats each) are prefetched, spread over the k loop: the
// next micro-panel's rows of B, fetched from L3 a few lines at a time while this panel's tiles run, instead of
// all at once by its first tile (which then ran 2.3x as long as the others: 256 rows of misses it cannot hide).
// A hint only: kernels may ignore it.
struct BStream {
  const float* src = nullptr;
  std::int64_t src_stride = 0;
  float* pack = nullptr;
  const float* prefetch = nullptr;
  std::int64_t prefetch_stride = 0, prefetch_rows = 0;
};

struct GemmKernels {
  int mr, nr;
  void (*tile)(const MicroTile& t);
  // The same tile with B read through one pointer per k (taps must be 1): t.b[k] points at nr readable floats.
  // Used where B rows already lie contiguous in memory (NHWC pixels in the weight gradient): no packing pass.
  void (*tile_b_rows)(const MicroTile& t);
  // dz = dy * act'(y) where act' is taken from the forward output y (relu: y > 0; leaky: y > 0 ? 1 : slope).
  void (*activation_grad)(const float* dy, const float* y, float* dz, std::int64_t n, int activation,
                          float negative_slope);
  // Runs `iterations` rounds of independent FMAs (enough accumulators to hide latency) and returns the FLOPs
  // done; the benchmark divides by the time to print the machine's measured FMA peak.
  double (*fma_peak)(std::int64_t iterations);
  // Row-by-row dot products for a narrow C (few columns, long k): c[i * ldc + j] = sum_k a[i * lda + k] *
  // bt[j * ldb + k] for i < m, j < n. Both operands are read along k in place, so no lanes are wasted on the
  // missing columns of an NR panel (10 units filled 10 of 16). SIMD tiers sum k in vector lanes, then across them.
  void (*dot_rows)(std::int64_t m, std::int64_t n, std::int64_t k, const float* a, std::int64_t lda, const float* bt,
                   std::int64_t ldb, float* c, std::int64_t ldc);
  // The same tile (taps must be 1) with B streamed for the small-M driver (see BStream): read in place from a
  // row-major B and packed as it is used, and/or the rows of the next micro-panel prefetched meanwhile. Same FMAs
  // in the same order as `tile`, so bit-identical results.
  void (*tile_stream)(const MicroTile& t, const BStream& s);
};

const GemmKernels& gemm_kernels_scalar();
#if defined(CONVLITE_HAVE_AVX2)
const GemmKernels& gemm_kernels_avx2();
// dot_rows of the AVX2 table (gemm_dot_avx2.cpp).
void gemm_dot_rows_avx2(std::int64_t m, std::int64_t n, std::int64_t k, const float* a, std::int64_t lda,
                        const float* bt, std::int64_t ldb, float* c, std::int64_t ldc);
#endif
#if defined(CONVLITE_HAVE_AVX512)
const GemmKernels& gemm_kernels_avx512();
#endif

}  // namespace convlite

// The GEMM drivers every GEMM-shaped op shares (portable code, compiled at baseline).
//
// indirect_gemm: C = epilogue(A * B) where each mr-row tile of A is described by pointers (one per row and tap):
//   rows of an NHWC tensor for an implicit-GEMM convolution (zeros for padding, no im2col buffer), rows of a
//   matrix for a plain GEMM, or a packed MR-panel when A must be transposed. B is packed once into NR-column
//   panels. Work is split over blocks of MC rows (the A block stays in L2 while every B panel streams past it)
//   and, when rows are few, over groups of B panels. Each output element is computed by the same instructions
//   whatever the partition, so results never depend on the thread count.
// reduction_gemm: C (kdim x n) = sum over m of A(m, k) * B(m, j), the weight-gradient shape (m = pixels, long).
//   The m range is cut into fixed chunks; fixed super-chunks of chunks reduce in order into partial buffers that
//   are summed in order, so the result is bit-identical for any thread count. The bias gradient is the column
//   sum of B, taken in the same pass while B is packed.
#pragma once
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <new>
#include <vector>

#include "convlite/parallel.hpp"
#include "kernels/gemm_kernels.hpp"

namespace convlite::gemm {

const GemmKernels& kernels();

// A zero-initialised float buffer aligned to 64 bytes.
class Buffer {
 public:
  Buffer() = default;
  explicit Buffer(std::int64_t n) { resize(n); }
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;
  ~Buffer() { std::free(data_); }
  void resize(std::int64_t n) {
    if (n > size_) {
      std::free(data_);
      data_ = nullptr;
      const std::size_t bytes = (static_cast<std::size_t>(n) * sizeof(float) + 63) / 64 * 64;
      data_ = static_cast<float*>(std::aligned_alloc(64, bytes ? bytes : 64));
      if (!data_) throw std::bad_alloc();
      size_ = n;
    }
    if (n > 0) std::memset(data_, 0, static_cast<std::size_t>(n) * sizeof(float));
  }
  float* data() { return data_; }
  const float* data() const { return data_; }

 private:
  float* data_ = nullptr;
  std::int64_t size_ = 0;
};

// B packed into NR-column panels: panel p holds k rows of nr floats, columns beyond n are zero.
struct PackedB {
  Buffer data;
  std::int64_t k = 0, n = 0, nr = 0, panels = 0;
  const float* panel(std::int64_t p) const { return data.data() + p * k * nr; }
};

// Packs B(kk, j) = src[kk * row_stride + j * col_stride] (k x n).
void pack_b(PackedB& out, const float* src, std::int64_t k, std::int64_t n, std::int64_t row_stride,
            std::int64_t col_stride);
// Bias padded to whole panels (nr * panels floats).
void pad_bias(Buffer& out, const float* bias, std::int64_t n, std::int64_t nr);

struct IndirectProblem {
  std::int64_t m = 0;      // rows of C
  std::int64_t taps = 1;   // A row segments per row
  std::int64_t kc = 0;     // floats per segment
  std::int64_t a_step = 1;
  std::int64_t scratch_per_tile = 0;  // floats the row callback may use per tile
  const PackedB* b = nullptr;         // (taps * kc) x n
  const float* bias = nullptr;        // padded, or null
  float beta = 0.0f;
  int activation = 0;
  float negative_slope = 0.0f;
};

// Row callback: rows(m0, mv, a, tap_of, c, scratch) fills a[t*mr + r] and tap_of[t] for the taps it keeps
// (taps whose rows are all zero may be dropped) and c[r] for r < mv; returns how many taps it kept.
// a[t*mr + r] for r >= mv must be readable (zeros).
template <class Rows>
void indirect_gemm(const IndirectProblem& p, Rows&& rows) {
  const GemmKernels& kt = kernels();
  const std::int64_t mr = kt.mr, nr = kt.nr;
  const std::int64_t n = p.b->n, panels = p.b->panels;
  if (p.m <= 0 || n <= 0) return;
  const std::int64_t k_total = std::max<std::int64_t>(p.taps * p.kc, 1);
  const std::int64_t m_tiles = (p.m + mr - 1) / mr;
  // MC: an A block of about 64K floats (L2), at most 32 tiles.
  const std::int64_t tiles_per_block = std::clamp<std::int64_t>(65536 / (k_total * mr), 1, 32);
  const std::int64_t blocks = (m_tiles + tiles_per_block - 1) / tiles_per_block;
  const std::int64_t panel_groups = blocks >= 8 ? 1 : std::min<std::int64_t>(panels, 8 / blocks);
  const double cost = 2.0 * static_cast<double>(std::min(m_tiles, tiles_per_block) * mr) * k_total *
                      static_cast<double>(panels * nr) / static_cast<double>(panel_groups);
  parallel_for(blocks * panel_groups, cost, [&](std::int64_t i0, std::int64_t i1) {
    std::vector<const float*> a(tiles_per_block * p.taps * mr);
    std::vector<std::int64_t> tap_of(tiles_per_block * p.taps), kept(tiles_per_block);
    std::vector<float*> c(tiles_per_block * mr);
    std::vector<const float*> bp(p.taps);
    std::vector<float*> cp(mr);
    Buffer scratch(tiles_per_block * p.scratch_per_tile);
    MicroTile t;
    t.kc = p.kc;
    t.a_step = p.a_step;
    t.beta = p.beta;
    t.activation = p.activation;
    t.negative_slope = p.negative_slope;
    t.b = bp.data();
    t.c = cp.data();
    for (std::int64_t item = i0; item < i1; ++item) {
      const std::int64_t block = item / panel_groups, group = item % panel_groups;
      const std::int64_t tile0 = block * tiles_per_block;
      const std::int64_t tiles = std::min(tiles_per_block, m_tiles - tile0);
      for (std::int64_t i = 0; i < tiles; ++i) {
        const std::int64_t m0 = (tile0 + i) * mr;
        kept[i] = rows(m0, std::min(mr, p.m - m0), a.data() + i * p.taps * mr, tap_of.data() + i * p.taps,
                       c.data() + i * mr, scratch.data() + i * p.scratch_per_tile);
      }
      const std::int64_t p0 = panels * group / panel_groups, p1 = panels * (group + 1) / panel_groups;
      for (std::int64_t pj = p0; pj < p1; ++pj) {
        const float* panel = p.b->panel(pj);
        t.nv = std::min(nr, n - pj * nr);
        t.bias = p.bias ? p.bias + pj * nr : nullptr;
        for (std::int64_t i = 0; i < tiles; ++i) {
          const std::int64_t m0 = (tile0 + i) * mr;
          t.mv = std::min(mr, p.m - m0);
          t.taps = kept[i];
          t.a = a.data() + i * p.taps * mr;
          for (std::int64_t tap = 0; tap < kept[i]; ++tap) bp[tap] = panel + tap_of[i * p.taps + tap] * p.kc * nr;
          for (std::int64_t r = 0; r < t.mv; ++r) cp[r] = c[i * mr + r] + pj * nr;
          kt.tile(t);
        }
      }
    }
  });
}

struct ReductionProblem {
  std::int64_t m = 0;     // reduction length (pixels)
  std::int64_t taps = 1;  // A(m, :) is taps segments of kc floats
  std::int64_t kc = 0;
  std::int64_t n = 0;
  const float* dz = nullptr;  // B(m, j) = act'(y) * dz[m * ldz + j]
  const float* y = nullptr;   // forward output for the activation mask, or null
  std::int64_t ldz = 0;
  int activation = 0;
  float negative_slope = 0.0f;
  float* c = nullptr;  // (taps*kc) x n, row stride ldc; may be null when only db is wanted
  std::int64_t ldc = 0;
  float* db = nullptr;  // n, or null
};

// Segment callback: segs(m0, m1, ptr) fills ptr[(m - m0) * taps + t] with the start of segment t of row m, or
// null for a zero segment.
void reduction_gemm_impl(const ReductionProblem& p,
                         void (*segs)(const void* ctx, std::int64_t m0, std::int64_t m1, const float** ptr),
                         const void* ctx);

template <class Segs>
void reduction_gemm(const ReductionProblem& p, const Segs& segs) {
  reduction_gemm_impl(
      p,
      [](const void* ctx, std::int64_t m0, std::int64_t m1, const float** ptr) {
        (*static_cast<const Segs*>(ctx))(m0, m1, ptr);
      },
      &segs);
}

}  // namespace convlite::gemm

// The GEMM drivers every GEMM-shaped op shares (portable code, compiled at baseline).
//
// indirect_gemm: C = epilogue(A * B) where each mr-row tile of A is described by pointers (one per row and tap):
//   rows of an NHWC tensor for an implicit-GEMM convolution (zeros for padding, no im2col buffer), rows of a
//   matrix for a plain GEMM, or a packed MR-panel when A must be transposed. B is packed once into NR-column
//   panels. Work is split over blocks of MC rows (the A block stays in L2 while every B panel streams past it)
//   and, when rows are few, over groups of B panels. Each output element is computed by the same instructions
//   whatever the partition, so results never depend on the thread count.
// reduction_gemm (gemm_reduction.cpp): C (kdim x n) = sum over m of Xcol(m, k) * dz(m, j), the weight-gradient
//   shape (m = pixels, long), computed as C^T with Xcol (NHWC pixel slices) on the microkernel's vector side: each
//   chunk of dz packed into MR panels and each Xcol panel packed into an L1-resident NR panel (or, where packing
//   does not pay, Xcol rows read in place). The m range is cut into fixed chunks; fixed super-chunks of chunks
//   reduce in order into partial buffers that are summed in order, so the result is bit-identical for any thread
//   count. The bias gradient is the column sum of dz, taken in the same pass while dz (masked on the fly) is
//   packed.
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

// parallel_for's threshold counts about one unit per FLOP or byte (1M units per extra thread); a packed-GEMM
// FLOP is weighed at 1/32, so a deep GEMM forms a team only from about 64 MFLOP (~0.3 ms per thread). Below that,
// fork/join and (on a busy machine) a descheduled worker cost more than they save: the ECG model's layers
// (~2 MFLOP) measured 0.2 ms on one thread and 24 ms on two under a load of 10 on 2 cores, and weighing every
// GEMM FLOP at 1/8 made the MNIST training step 10-25% slower.
constexpr double kFlopCost = 1.0 / 32.0;
// A shallow GEMM (depth K, or the smaller side of a weight gradient, below 256) spends more of its time per FLOP
// packing and writing C, so its FLOPs weigh up to 8x more: the 1x1 convolutions of separable layers (K = 32-64,
// ~33 MFLOP each) then use both cores, while every GEMM of 256 deep and more keeps kFlopCost.
inline double conv_flop_cost(std::int64_t depth) {
  return kFlopCost * std::clamp(256.0 / static_cast<double>(std::max<std::int64_t>(depth, 1)), 1.0, 8.0);
}
// A dense layer's GEMMs (the small-M driver's forward and dx, the weight gradient with the batch as K) keep A and B
// in L2 and pay for a second thread much earlier: a FLOP weighs 1/2, so a team forms from about 4 MFLOP (2 MFLOP,
// ~20 us, each). LeNet-5's 400 -> 120 layer (6 MFLOP per batch of 64) then uses both cores.
constexpr double kDenseFlopCost = 1.0 / 2.0;

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

// Per-thread scratch that survives between calls (grow-only, 64-byte aligned, contents undefined): packing
// buffers are reused instead of being mapped and page-faulted afresh on every call. One slot per purpose, so
// that nested users on one thread never share memory.
enum class Slot : int { packed_b, packed_a, scratch, reduce_a, reduce_b, partial, partial_db, masked_dz, weights_t,
                        small_x, small_w, small_bias, small_dx, reduce_dzt, dx_dz, dx_w, dense_wt, count };
float* workspace(Slot slot, std::int64_t n);

// B packed into NR-column panels: panel p holds k rows of nr floats, columns beyond n are zero.
struct PackedB {
  float* data = nullptr;
  std::int64_t k = 0, n = 0, nr = 0, panels = 0;
  const float* panel(std::int64_t p) const { return data + p * k * nr; }
};

// Packs B(kk, j) = src[kk * row_stride + j * col_stride] (k x n).
void pack_b(PackedB& out, const float* src, std::int64_t k, std::int64_t n, std::int64_t row_stride,
            std::int64_t col_stride);
// A 6-row MR-panel, k-major: dst[k * 6 + r] = row[r][k] for k < kc (SSE transposes of 4 k where available).
void pack_rows6(float* dst, const float* const* row, std::int64_t kc);
// An MR-panel of a transposed A whose rows are neighbours: dst[k * mr + r] = src[k * ld + r] for k < kc.
void pack_transposed_panel(float* dst, const float* src, std::int64_t ld, std::int64_t kc, std::int64_t mr);
inline bool consecutive_rows(const float* const* row, std::int64_t mr) {
  for (std::int64_t r = 1; r < mr; ++r)
    if (row[r] != row[0] + r) return false;
  return true;
}
// Bias padded to whole panels (nr * panels floats).
void pad_bias(Buffer& out, const float* bias, std::int64_t n, std::int64_t nr);

// dz = dy * act'(y) over n values (activation 1 relu: dy where y > 0, else +0; 2 leaky_relu: dy * slope where
// y <= 0), by the ISA's activation_grad in blocks over the threads: the mask pass of the conv, dense and model
// backward paths.
void masked_gradient(const float* dy, const float* y, float* dz, std::int64_t n, int activation,
                     float negative_slope);

struct IndirectProblem {
  std::int64_t m = 0;      // rows of C
  std::int64_t taps = 1;   // A row segments per row
  std::int64_t kc = 0;     // floats per segment
  std::int64_t a_step = 1;
  std::int64_t scratch_per_tile = 0;  // floats the row callback may use per tile
  // Copy each tile's rows into a contiguous MR-panel per K block before use (BLIS packing). Needed when rows
  // are far apart (a matrix with a large leading dimension aliases in L1) or strided (a transposed A, where
  // a_step is the leading dimension). Only with taps == 1. Rows >= mv are not read.
  bool pack_a = false;
  // K block for a packed A (taps == 1), 0 for kKc. A small block keeps the B micro-panel (kc_block x NR) in L1
  // while every A panel of the MC block passes it (BLIS order), which pays once A rows are packed.
  std::int64_t kc_block = 0;
  const PackedB* b = nullptr;         // (taps * kc) x n
  const float* bias = nullptr;        // padded, or null
  float beta = 0.0f;
  int activation = 0;
  float negative_slope = 0.0f;
  // What a FLOP weighs in parallel_for: 0 takes the conv engine's conv_flop_cost for this K; a dense layer's small
  // GEMMs (all of A and B in L2) pay for a second thread much earlier.
  double flop_cost = 0.0;
};

// Row callback: rows(m0, mv, a, tap_of, c, scratch) fills a[t*mr + r] and tap_of[t] for the taps it keeps
// (taps whose rows are all zero may be dropped) and c[r] for r < mv; returns how many taps it kept.
// a[t*mr + r] for r >= mv must be readable (zeros).
// K blocks (KC): K is cut into blocks of about kKc floats (taps grouped whole). Measured here (Zen3), fewer passes
// over C beat an L1-resident B micro-panel: with 12 FMAs per 2 B loads, B streams from L2 fast enough, while
// every extra K block re-reads the C tile from L2/L3. Blocks after the first accumulate into C (beta = 1); the
// epilogue runs on the last one.
constexpr std::int64_t kKc = 1024;
// K block of plain GEMMs with A packed (sgemm, dense): BLIS's KC on Zen — the B micro-panel (256 x NR floats,
// 16 KB) stays in L1 while the A panels of an MC block (32 tiles, 192 KB) pass it from L2. Measured level with
// KC = 1024 on one core at 1024^3 and better for the dense layer shapes; smaller blocks pay more passes over C.
constexpr std::int64_t kPackedKc = 256;

// Few rows (gemm_small_m.cpp): C (m x n, row stride ldc) = act(A * B + bias) with A(i, kk) = a[i * lda + kk] and
// B(kk, j) = b[kk * b_row_stride + j * b_col_stride], read in place (no pack_b pass): all of A is packed once,
// B a few kc x NR micro-panels at a time right before use, threads split the columns. Same K blocks and microkernel calls
// as indirect_gemm with kc_block = kPackedKc. padded_bias: nr * panels readable floats, or null; beta scales the
// old C (not read when 0).
bool small_m_fits(std::int64_t m, std::int64_t k);
void small_m_gemm(std::int64_t m, std::int64_t n, std::int64_t k, const float* a, std::int64_t lda, const float* b,
                  std::int64_t b_row_stride, std::int64_t b_col_stride, float* c, std::int64_t ldc,
                  const float* padded_bias, int activation, float negative_slope, float beta = 0.0f);

template <class Rows>
void indirect_gemm(const IndirectProblem& p, Rows&& rows) {
  const GemmKernels& kt = kernels();
  const std::int64_t mr = kt.mr, nr = kt.nr;
  const std::int64_t n = p.b->n, panels = p.b->panels;
  if (p.m <= 0 || n <= 0) return;
  const std::int64_t k_total = std::max<std::int64_t>(p.taps * p.kc, 1);
  // K blocks: [tap0, tap1) x [c0, c1).
  struct KBlock {
    std::int64_t tap0, tap1, c0, c1;
  };
  std::vector<KBlock> kblocks;
  const std::int64_t kc_max = (p.taps == 1 && p.kc_block > 0) ? p.kc_block : kKc;
  if (p.taps == 1) {
    // Equal blocks of at most kc_max (no short tail block that would re-read C for a few k).
    const std::int64_t nk = std::max<std::int64_t>(1, (p.kc + kc_max - 1) / kc_max);
    for (std::int64_t b = 0; b < nk; ++b) kblocks.push_back({0, 1, p.kc * b / nk, p.kc * (b + 1) / nk});
  } else {
    const std::int64_t per = std::max<std::int64_t>(1, kKc / std::max<std::int64_t>(p.kc, 1));
    for (std::int64_t t0 = 0; t0 < p.taps; t0 += per) kblocks.push_back({t0, std::min(p.taps, t0 + per), 0, p.kc});
  }
  const std::int64_t k_block = p.taps == 1 ? std::max<std::int64_t>(1, (p.kc + kblocks.size() - 1) / kblocks.size())
                                           : std::min(k_total, std::max<std::int64_t>(kKc, p.kc));
  const std::int64_t m_tiles = (p.m + mr - 1) / mr;
  // MC: an A block of about 48K floats (L2), at most 32 tiles.
  const std::int64_t threads = get_num_threads();
  std::int64_t tiles_per_block = std::clamp<std::int64_t>(49152 / (k_block * mr), 1, 32);
  std::int64_t blocks = (m_tiles + tiles_per_block - 1) / tiles_per_block;
  if (threads > 1 && blocks > 1) {
    // As many blocks as a multiple of the threads: 171 tiles in 6 blocks of 32 gave one thread 96 tiles and
    // the other 75. Which block a tile falls in never changes how its outputs are computed.
    blocks = (blocks + threads - 1) / threads * threads;
    tiles_per_block = (m_tiles + blocks - 1) / blocks;
  }
  // Block b holds tiles [m_tiles * b / blocks, m_tiles * (b + 1) / blocks): sizes differ by at most one, so each
  // thread's share does too (171 tiles in blocks of 29 had left 87 against 84).
  const auto block_tile0 = [&](std::int64_t b) { return m_tiles * b / blocks; };
  // With few row blocks, threads also split the B panels (each group re-runs the row callback: only then).
  const std::int64_t panel_groups =
      (threads <= 1 || blocks >= 2 * threads) ? 1 : std::min<std::int64_t>(panels, (2 * threads + blocks - 1) / blocks);
  const double flop_cost = p.flop_cost > 0.0 ? p.flop_cost : conv_flop_cost(k_total);
  const double cost = flop_cost * 2.0 * static_cast<double>(std::min(m_tiles, tiles_per_block) * mr) * k_total *
                      static_cast<double>(panels * nr) / static_cast<double>(panel_groups);
  parallel_for(blocks * panel_groups, cost, [&](std::int64_t i0, std::int64_t i1) {
    std::vector<const float*> a(tiles_per_block * p.taps * mr), a_shift(mr);
    std::vector<std::int64_t> tap_of(tiles_per_block * p.taps), kept(tiles_per_block);
    std::vector<float*> c(tiles_per_block * mr);
    std::vector<const float*> bp(p.taps);
    std::vector<float*> cp(mr);
    float* scratch = workspace(Slot::scratch, tiles_per_block * p.scratch_per_tile);
    float* packed_a = workspace(Slot::packed_a, p.pack_a ? tiles_per_block * mr * k_block : 0);
    MicroTile t;
    t.a_step = p.pack_a ? mr : p.a_step;
    t.activation = p.activation;
    t.negative_slope = p.negative_slope;
    t.b = bp.data();
    t.c = cp.data();
    for (std::int64_t item = i0; item < i1; ++item) {
      const std::int64_t block = item / panel_groups, group = item % panel_groups;
      const std::int64_t tile0 = block_tile0(block);
      const std::int64_t tiles = block_tile0(block + 1) - tile0;
      for (std::int64_t i = 0; i < tiles; ++i) {
        const std::int64_t m0 = (tile0 + i) * mr;
        kept[i] = rows(m0, std::min(mr, p.m - m0), a.data() + i * p.taps * mr, tap_of.data() + i * p.taps,
                       c.data() + i * mr, scratch + i * p.scratch_per_tile);
      }
      const std::int64_t p0 = panels * group / panel_groups, p1 = panels * (group + 1) / panel_groups;
      for (std::size_t kb = 0; kb < kblocks.size(); ++kb) {
        const KBlock& blk = kblocks[kb];
        const bool first = kb == 0, last = kb + 1 == kblocks.size();
        t.kc = blk.c1 - blk.c0;
        t.beta = first ? p.beta : 1.0f;
        t.activation = last ? p.activation : 0;
        if (p.pack_a) {  // this block's MR-panels, k-major: panel[(k - c0) * mr + r]
          for (std::int64_t i = 0; i < tiles; ++i) {
            const std::int64_t mv = std::min(mr, p.m - (tile0 + i) * mr);
            float* dst = packed_a + i * mr * t.kc;
            const float* const* src = a.data() + i * mr;
            const std::int64_t rows_in = kept[i] == 0 ? 0 : mv;
            if (p.a_step == 1) {  // k outside: the panel is written in order while mr row streams are read
              const float* row[16];  // every kernel table has mr <= 16 (6 on AVX2, 8 on AVX-512)
              for (std::int64_t r = 0; r < mr; ++r) row[r] = r < rows_in ? src[r] + blk.c0 : nullptr;
              if (rows_in == mr && mr == 6) {
                pack_rows6(dst, row, t.kc);
              } else {
                for (std::int64_t k = 0; k < t.kc; ++k)
                  for (std::int64_t r = 0; r < mr; ++r) dst[k * mr + r] = r < rows_in ? row[r][k] : 0.0f;
              }
            } else if (rows_in == mr && consecutive_rows(src, mr)) {
              // a transposed A: the mr values of one k lie side by side in memory: one fixed-size copy per k
              // (loading each value through its row pointer was half of a 64 x 1600 -> 10 weight gradient)
              pack_transposed_panel(dst, src[0] + blk.c0 * p.a_step, p.a_step, t.kc, mr);
            } else {  // a transposed A: the mr values of one k are neighbours in memory, so walk k outside
              for (std::int64_t k = 0; k < t.kc; ++k) {
                const std::int64_t off = (blk.c0 + k) * p.a_step;
                for (std::int64_t r = 0; r < mr; ++r) dst[k * mr + r] = r < rows_in ? src[r][off] : 0.0f;
              }
            }
          }
        }
        for (std::int64_t pj = p0; pj < p1; ++pj) {
          const float* panel = p.b->panel(pj);
          t.nv = std::min(nr, n - pj * nr);
          t.bias = (last && p.bias) ? p.bias + pj * nr : nullptr;
          for (std::int64_t i = 0; i < tiles; ++i) {
            const std::int64_t m0 = (tile0 + i) * mr;
            const std::int64_t* tl = tap_of.data() + i * p.taps;
            std::int64_t k0 = 0, k1 = 0;  // this tile's kept taps inside the block
            while (k0 < kept[i] && tl[k0] < blk.tap0) ++k0;
            k1 = k0;
            while (k1 < kept[i] && tl[k1] < blk.tap1) ++k1;
            t.mv = std::min(mr, p.m - m0);
            t.taps = k1 - k0;
            const float* const* ai = a.data() + (i * p.taps + k0) * mr;
            if (p.pack_a) {
              for (std::int64_t r = 0; r < mr; ++r) a_shift[r] = packed_a + i * mr * t.kc + r;
              ai = a_shift.data();
            } else if (blk.c0 != 0) {
              for (std::int64_t r = 0; r < mr; ++r) a_shift[r] = ai[r] + blk.c0 * p.a_step;
              ai = a_shift.data();
            }
            t.a = ai;
            for (std::int64_t tap = k0; tap < k1; ++tap) bp[tap - k0] = panel + (tl[tap] * p.kc + blk.c0) * nr;
            for (std::int64_t r = 0; r < t.mv; ++r) cp[r] = c[i * mr + r] + pj * nr;
#if defined(__GNUC__)
            if (p.pack_a && pj + 1 < p1) {
              // This tile's share of the next B micro-panel, into L2: its first tile otherwise waited on L3 for
              // every row (the kernel's own prefetch runs a few rows ahead, enough for L2 only).
              const float* next = p.b->panel(pj + 1) + blk.c0 * nr;
              const std::int64_t lines = t.kc * nr / 16;
              for (std::int64_t l = lines * i / tiles, l1 = lines * (i + 1) / tiles; l < l1; ++l)
                __builtin_prefetch(next + l * 16, 0, 2);
            }
#endif
            kt.tile(t);
          }
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
  // If set, B(m, j) (masked) is also written to dz_out[m * ldz + j] for j < n as dz is packed: the input gradient
  // that follows reads it, without a separate masking pass over dy and y.
  float* dz_out = nullptr;
  // If set, called once per chunk of pixels [m0, m1) right after the chunk is packed, by the thread that packed
  // it, with the chunk's masked B rows (rows[(m - m0) * n + j], n floats apart) in a per-thread buffer that is
  // still in cache: the separable backward forms its pointwise input gradient there, so the masked gradient is
  // never written to memory and read back. Chunks are fixed by m alone, so what the hook computes per pixel
  // does not depend on the thread count. (dz_out is not written when this is set.)
  void (*chunk_rows)(const void* ctx, std::int64_t m0, std::int64_t m1, const float* rows) = nullptr;
  const void* chunk_rows_ctx = nullptr;
  double chunk_rows_cost = 0.0;  // the hook's work per pixel, in parallel_for's units
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

// Separable convolution fused per tile: depthwise into a per-thread, cache-sized buffer, then the pointwise 1x1 as
// GEMM microkernel tiles straight from that buffer into the output with the bias + activation epilogue. The
// unfused path writes the whole intermediate (pixels x C*dm) to memory and reads it back for the 1x1 GEMM; here it
// is read back while still in L2. Tiles are rectangles of output pixels that are contiguous in NHWC: whole rows of
// one image, or (for very wide rows) a run of columns of one row; their size comes from the shape alone and every
// pixel is computed by the same instructions whatever the tile, so results never depend on the thread count.
// Depth multipliers > 1: the depthwise kernels see one input channel per output channel. Without a stored
// intermediate the tile is computed multiplier by multiplier straight from x (channels in m-major order, the
// pointwise rows permuted to match); when the intermediate is stored (training) it must be in Keras's c*dm + m
// order, so the input patch a tile reads is expanded per tile (x[c] repeated dm times) instead of expanding the
// whole input as depthwise2d does.
// Backward: the pointwise half is one pass of the weight-gradient reduction over the pixels (dW, db, the relu mask
// applied as dy is packed), which also forms the pointwise input gradient chunk by chunk from the masked rows while
// they are in cache; then the depthwise backward (dx and dW in one pass over that gradient).
#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <new>
#include <vector>

#include "convlite/conv.hpp"
#include "convlite/parallel.hpp"
#include "gemm/gemm_driver.hpp"
#include "kernels/depthwise_kernels.hpp"

namespace convlite {
namespace {

// A tile's depthwise result: about this many floats (128 KB), so that it stays in L2 (512 KB on Zen3) until the
// GEMM reads it. Measured on one core (CPU time, 8x56x56 64->128 and two smaller shapes): 16K-64K floats within 2%
// of each other, 4K 10% slower; larger tiles expand less overlap for dm > 1 (28x28 dm 2: 4K 1.75 ms, 32K 1.29 ms).
constexpr std::int64_t kTileFloats = 32768;

struct Tap {
  std::int64_t k, src;  // kernel index, source coordinate
};

// Output columns [first, first + count) that read the same kernel columns; sources are those of `first`.
struct ColumnRun {
  std::int64_t first, count;
  std::vector<Tap> taps;
};

std::vector<Tap> column_taps(const Conv2dShape& s, std::int64_t ow) {
  std::vector<Tap> taps;
  for (std::int64_t j = 0; j < s.kernel_w; ++j) {
    const std::int64_t iw = ow * s.stride_w - s.pad_left + j * s.dilation_w;
    if (iw >= 0 && iw < s.in_w) taps.push_back({j, iw});
  }
  return taps;
}

std::vector<ColumnRun> column_runs(const Conv2dShape& s) {
  std::vector<ColumnRun> runs;
  for (std::int64_t ow = 0; ow < s.out_w; ++ow) {
    std::vector<Tap> taps = column_taps(s, ow);
    const bool same = !runs.empty() && std::equal(runs.back().taps.begin(), runs.back().taps.end(), taps.begin(),
                                                  taps.end(), [](Tap a, Tap b) { return a.k == b.k; });
    if (same) ++runs.back().count;
    else runs.push_back({ow, 1, std::move(taps)});
  }
  return runs;
}

// Output pixels [oh0, oh1) x [ow0, ow1) of image b: whole rows, or part of one row.
struct Tile {
  std::int64_t b, oh0, oh1, ow0, ow1;
  std::int64_t pixels() const { return (oh1 - oh0) * (ow1 - ow0); }
};

struct Tiling {
  std::int64_t rows_per_tile = 1, cols_per_tile = 1, per_row = 1, per_image = 1, count = 0;
  Tile at(const Conv2dShape& s, std::int64_t t) const {
    const std::int64_t b = t / per_image, i = t % per_image;
    if (per_row == 1) {
      const std::int64_t oh0 = i * rows_per_tile;
      return {b, oh0, std::min(s.out_h, oh0 + rows_per_tile), 0, s.out_w};
    }
    const std::int64_t oh = i / per_row, ow0 = (i % per_row) * cols_per_tile;
    return {b, oh, oh + 1, ow0, std::min(s.out_w, ow0 + cols_per_tile)};
  }
};

Tiling make_tiling(const Conv2dShape& s, std::int64_t ld, std::int64_t mr) {
  Tiling t;
  const std::int64_t row_floats = s.out_w * ld;
  if (row_floats <= kTileFloats) {
    const std::int64_t most = std::clamp<std::int64_t>(kTileFloats / std::max<std::int64_t>(row_floats, 1), 1, s.out_h);
    t.per_image = (s.out_h + most - 1) / most;
    t.rows_per_tile = (s.out_h + t.per_image - 1) / t.per_image;  // even tiles: 56 rows as 7 x 8, not 6 x 9 + 2
    t.per_image = (s.out_h + t.rows_per_tile - 1) / t.rows_per_tile;
  } else {  // whole microkernel tiles of one row
    t.cols_per_tile = std::max<std::int64_t>(mr, kTileFloats / std::max<std::int64_t>(ld, 1) / mr * mr);
    t.per_row = (s.out_w + t.cols_per_tile - 1) / t.cols_per_tile;
    t.per_image = s.out_h * t.per_row;
  }
  t.count = s.batch * t.per_image;
  return t;
}

struct Plan {
  const Conv2dShape& s;
  std::int64_t dm, mid_c;  // mid_c = in_c * dm
  const float* x;
  const float* depthwise_w;  // (taps, in_c * dm): tap t of channel c*dm + m at t * mid_c + c * dm + m
  // dm > 1 without a stored intermediate: the tile's channels in multiplier-major order (m * in_c + c), one
  // gather per m straight from x with the weights regrouped as (dm, taps, in_c), and the pointwise rows permuted
  // to match. No expanded input at all; only the order of the pointwise sum differs from the standard layout.
  bool by_multiplier = false;
  const float* depthwise_by_m = nullptr;
  std::vector<ColumnRun> runs;
};

// The tile's depthwise output into out (pixel p of the tile at out + p * ld), no bias, no activation.
// expand: per-thread scratch for the dm > 1 input patch.
void depthwise_tile(const Plan& plan, const DepthwiseKernels& k, const Tile& t, float* out, std::int64_t ld,
                    float* (*expand_buffer)(std::int64_t)) {
  const Conv2dShape& s = plan.s;
  const std::int64_t dm = plan.dm, taps = s.kernel_h * s.kernel_w;
  // Source floats per pixel: the expanded channels, or x's own.
  const std::int64_t C = dm > 1 && !plan.by_multiplier ? plan.mid_c : s.in_c;
  const std::int64_t passes = plan.by_multiplier ? dm : 1, channels = plan.by_multiplier ? s.in_c : plan.mid_c;
  // The source view: pixel (ih, iw) at base + ((ih - row_lo) * width + (iw - col_lo)) * C.
  const float* base = plan.x + t.b * s.in_h * s.in_w * s.in_c;
  std::int64_t row_lo = 0, col_lo = 0, width = s.in_w;
  if (dm > 1 && !plan.by_multiplier) {
    row_lo = std::max<std::int64_t>(0, t.oh0 * s.stride_h - s.pad_top);
    const std::int64_t row_hi =
        std::min(s.in_h, (t.oh1 - 1) * s.stride_h - s.pad_top + (s.kernel_h - 1) * s.dilation_h + 1);
    col_lo = std::max<std::int64_t>(0, t.ow0 * s.stride_w - s.pad_left);
    const std::int64_t col_hi =
        std::min(s.in_w, (t.ow1 - 1) * s.stride_w - s.pad_left + (s.kernel_w - 1) * s.dilation_w + 1);
    width = std::max<std::int64_t>(col_hi - col_lo, 0);
    const std::int64_t rows = std::max<std::int64_t>(row_hi - row_lo, 0);
    float* e = expand_buffer(rows * width * C);
    for (std::int64_t ih = row_lo; ih < row_lo + rows; ++ih) {
      const float* src = base + (ih * s.in_w + col_lo) * s.in_c;
      for (std::int64_t i = 0; i < width * s.in_c; ++i)
        for (std::int64_t m = 0; m < dm; ++m) *e++ = src[i];
    }
    base = e - rows * width * C;
  }
  std::vector<std::int64_t> offset, tap_index;
  std::vector<const float*> weight;
  std::vector<Tap> row_taps;
  const std::int64_t tile_w = t.ow1 - t.ow0;
  for (std::int64_t oh = t.oh0; oh < t.oh1; ++oh) {
    row_taps.clear();
    for (std::int64_t i = 0; i < s.kernel_h; ++i) {
      const std::int64_t ih = oh * s.stride_h - s.pad_top + i * s.dilation_h;
      if (ih >= 0 && ih < s.in_h) row_taps.push_back({i, ih});
    }
    for (const ColumnRun& run : plan.runs) {
      const std::int64_t c0 = std::max(run.first, t.ow0), c1 = std::min(run.first + run.count, t.ow1);
      if (c0 >= c1) continue;
      offset.clear();
      tap_index.clear();
      for (const Tap& rt : row_taps)
        for (const Tap& ct : run.taps) {
          const std::int64_t iw = ct.src + (c0 - run.first) * s.stride_w;
          offset.push_back(((rt.src - row_lo) * width + (iw - col_lo)) * C);
          tap_index.push_back(rt.k * s.kernel_w + ct.k);
        }
      DepthwiseRun dr;
      dr.src = base;
      dr.src_step = s.stride_w * C;
      dr.offset = offset.data();
      dr.taps = static_cast<std::int64_t>(offset.size());
      dr.count = c1 - c0;
      float* dst = out + ((oh - t.oh0) * tile_w + (c0 - t.ow0)) * ld;
      for (std::int64_t m = 0; m < passes; ++m) {
        weight.clear();
        for (std::int64_t tap : tap_index)
          weight.push_back(plan.by_multiplier ? plan.depthwise_by_m + (m * taps + tap) * s.in_c
                                              : plan.depthwise_w + tap * plan.mid_c);
        k.gather(dr, weight.data(), nullptr, dst + m * channels, ld, channels, 0, 0.0f);
      }
    }
  }
}

float* tile_scratch(std::int64_t n) { return gemm::workspace(gemm::Slot::scratch, n); }
float* expand_scratch(std::int64_t n) { return gemm::workspace(gemm::Slot::small_x, n); }

// Grow-only per-thread buffers for the backward's intermediates (not gemm::workspace slots: the conv2d and
// depthwise backward passes called with them use those slots themselves).
float* own_buffer(int which, std::int64_t n) {
  struct Store {
    float* data[2] = {};
    std::int64_t size[2] = {};
    ~Store() {
      for (float* d : data) std::free(d);
    }
  };
  thread_local Store store;
  if (n > store.size[which]) {
    std::free(store.data[which]);
    store.data[which] = nullptr;
    store.size[which] = 0;
    const std::size_t bytes = (static_cast<std::size_t>(n) * sizeof(float) + 63) / 64 * 64;
    store.data[which] = static_cast<float*>(std::aligned_alloc(64, bytes ? bytes : 64));
    if (!store.data[which]) throw std::bad_alloc();
    store.size[which] = n;
  }
  return store.data[which];
}

// The pointwise input gradient dmid = dz' * W^T for one chunk of pixels, run by the weight-gradient reduction as
// soon as it has masked and packed the chunk (gemm::ReductionProblem::chunk_rows): the chunk's masked rows are
// read back from L1/L2 instead of the whole masked gradient (56x56x128 at batch 8: 12.8 MB) going to memory and
// back, and the FMAs here overlap the reduction's memory-bound packing.
struct PointwiseDx {
  const gemm::PackedB* wt;  // W^T packed: K = F, N = C
  const float* zero_row;    // F zeros: the rows of a partial microkernel tile
  float* dmid;
  std::int64_t C, F;
};

void pointwise_dx_rows(const void* ctx, std::int64_t m0, std::int64_t m1, const float* rows) {
  const PointwiseDx& d = *static_cast<const PointwiseDx*>(ctx);
  const GemmKernels& kt = gemm::kernels();
  const std::int64_t mr = kt.mr, nr = kt.nr, count = m1 - m0;
  const float* a[16];  // mr <= 16 in every kernel table
  float* c[16];
  MicroTile mt;
  mt.taps = 1;
  mt.kc = d.F;
  mt.a = a;
  mt.a_step = 1;
  mt.c = c;
  for (std::int64_t i = 0; i < count; i += mr) {
    mt.mv = std::min(mr, count - i);
    for (std::int64_t r = 0; r < mr; ++r) a[r] = r < mt.mv ? rows + (i + r) * d.F : d.zero_row;
    for (std::int64_t pj = 0; pj < d.wt->panels; ++pj) {
      const float* panel = d.wt->panel(pj);
      mt.b = &panel;
      mt.nv = std::min(nr, d.C - pj * nr);
      for (std::int64_t r = 0; r < mt.mv; ++r) c[r] = d.dmid + (m0 + i + r) * d.C + pj * nr;
      kt.tile(mt);
    }
  }
}

float apply(float v, const Epilogue& e) {
  if (e.activation == FusedActivation::relu) return v > 0.0f ? v : 0.0f;
  if (e.activation == FusedActivation::leaky_relu) return v > 0.0f ? v : v * e.negative_slope;
  return v;
}

}  // namespace

void separable_conv2d_forward(const Conv2dShape& s, std::int64_t depth_multiplier, const float* x,
                              const float* depthwise_w, const float* pointwise_w, const float* bias, float* y,
                              const Epilogue& epilogue, float* mid) {
  const std::int64_t F = s.out_c, C = s.in_c * depth_multiplier;
  const std::int64_t pixels = s.batch * s.out_h * s.out_w;
  if (pixels <= 0 || F <= 0) return;
  if (C <= 0) {  // no input channels: every output is act(bias)
    for (std::int64_t p = 0; p < pixels; ++p)
      for (std::int64_t f = 0; f < F; ++f) y[p * F + f] = apply(bias ? bias[f] : 0.0f, epilogue);
    return;
  }
  const GemmKernels& kt = gemm::kernels();
  const DepthwiseKernels& dk = depthwise_kernels();
  const std::int64_t mr = kt.mr, nr = kt.nr;
  // Buffer rows 64-byte aligned, and not a multiple of 4 KB apart (L1 set aliasing across the mr rows).
  std::int64_t ld = mid ? C : (C + 15) / 16 * 16;
  if (!mid && ld % 1024 == 0) ld += 16;
  Plan plan{s, depth_multiplier, C, x, depthwise_w, depth_multiplier > 1 && !mid, nullptr, column_runs(s)};
  std::vector<float> depthwise_by_m, pointwise_by_m;
  if (plan.by_multiplier) {
    const std::int64_t taps = s.kernel_h * s.kernel_w, dm = depth_multiplier;
    depthwise_by_m.resize(static_cast<std::size_t>(taps * C));
    pointwise_by_m.resize(static_cast<std::size_t>(C * F));
    for (std::int64_t m = 0; m < dm; ++m)
      for (std::int64_t c = 0; c < s.in_c; ++c) {
        for (std::int64_t t = 0; t < taps; ++t)
          depthwise_by_m[(m * taps + t) * s.in_c + c] = depthwise_w[t * C + c * dm + m];
        std::copy(pointwise_w + (c * dm + m) * F, pointwise_w + (c * dm + m + 1) * F,
                  pointwise_by_m.begin() + (m * s.in_c + c) * F);
      }
    plan.depthwise_by_m = depthwise_by_m.data();
  }
  const Tiling tiling = make_tiling(s, ld, mr);
  gemm::PackedB packed;
  gemm::pack_b(packed, plan.by_multiplier ? pointwise_by_m.data() : pointwise_w, C, F, F, 1);
  gemm::Buffer padded_bias, zeros(C);
  if (bias) gemm::pad_bias(padded_bias, bias, F, nr);
  const float* zero_row = zeros.data();
  const int act = static_cast<int>(epilogue.activation);
  const double pixels_per_tile = static_cast<double>(pixels) / static_cast<double>(tiling.count);
  // Work units as the direct small-conv kernels count them (a FLOP weighs 1/4): a team forms from about 8 MFLOP. At
  // the GEMM driver's 1/32 the 1D block of the bench (34 MFLOP in 16 tiles) stayed on one thread.
  const double cost = pixels_per_tile * 0.25 * (s.kernel_h * s.kernel_w * C + 2.0 * C * F);
  parallel_for(tiling.count, cost, [&](std::int64_t t0, std::int64_t t1) {
    const std::int64_t max_tile_pixels = tiling.per_row == 1 ? tiling.rows_per_tile * s.out_w : tiling.cols_per_tile;
    float* scratch = mid ? nullptr : tile_scratch(max_tile_pixels * ld);
    const float* a[16];  // mr <= 16 in every kernel table
    float* c[16];
    MicroTile mt;
    mt.taps = 1;
    mt.kc = C;
    mt.a = a;
    mt.a_step = 1;
    mt.c = c;
    mt.beta = 0.0f;
    mt.activation = act;
    mt.negative_slope = epilogue.negative_slope;
    for (std::int64_t ti = t0; ti < t1; ++ti) {
      const Tile tile = tiling.at(s, ti);
      const std::int64_t first = (tile.b * s.out_h + tile.oh0) * s.out_w + tile.ow0, count = tile.pixels();
      float* buf = mid ? mid + first * C : scratch;
      depthwise_tile(plan, dk, tile, buf, ld, expand_scratch);
      // Each group of mr pixels meets every NR panel while its rows (mr x C floats) sit in L1; the packed
      // pointwise kernel streams from L2. (Measured against panels outside: about the same, a little faster.)
      for (std::int64_t m0 = 0; m0 < count; m0 += mr) {
        mt.mv = std::min(mr, count - m0);
        for (std::int64_t r = 0; r < mr; ++r) a[r] = r < mt.mv ? buf + (m0 + r) * ld : zero_row;
        for (std::int64_t pj = 0; pj < packed.panels; ++pj) {
          const float* panel = packed.panel(pj);
          mt.b = &panel;
          mt.nv = std::min(nr, F - pj * nr);
          mt.bias = bias ? padded_bias.data() + pj * nr : nullptr;
          for (std::int64_t r = 0; r < mt.mv; ++r) c[r] = y + (first + m0 + r) * F + pj * nr;
          kt.tile(mt);
        }
      }
    }
  });
}

void separable_conv2d_backward(const Conv2dShape& s, std::int64_t depth_multiplier, const float* x,
                               const float* depthwise_w, const float* pointwise_w, const float* mid, const float* y,
                               const float* dy, float* dx, float* d_depthwise, float* d_pointwise, float* db,
                               const Epilogue& epilogue) {
  const std::int64_t C = s.in_c * depth_multiplier, F = s.out_c;
  Conv2dShape depthwise = s;
  depthwise.out_c = C;
  depthwise.groups = std::max<std::int64_t>(s.in_c, 1);
  const std::int64_t mid_size = s.batch * s.out_h * s.out_w * C;
  if (s.batch * s.out_h * s.out_w * F == 0 || C == 0) {  // nothing flows back (or nothing to flow into)
    if (dx) std::fill(dx, dx + s.batch * s.in_h * s.in_w * s.in_c, 0.0f);
    if (d_depthwise) std::fill(d_depthwise, d_depthwise + s.kernel_h * s.kernel_w * C, 0.0f);
    if (d_pointwise) std::fill(d_pointwise, d_pointwise + C * F, 0.0f);
    if (db) {  // with no input channels the output is act(bias): db is the masked dy summed, pixels in order
      std::fill(db, db + F, 0.0f);
      const std::int64_t pixels = s.batch * s.out_h * s.out_w;
      for (std::int64_t p = 0; p < pixels * F; ++p) {
        const bool positive = !y || y[p] > 0.0f;
        float g = dy[p];
        if (epilogue.activation == FusedActivation::relu && !positive) g = 0.0f;
        if (epilogue.activation == FusedActivation::leaky_relu && !positive) g *= epilogue.negative_slope;
        db[p % F] += g;
      }
    }
    return;
  }
  if (!mid) {
    float* z = own_buffer(0, mid_size);
    depthwise2d_forward(depthwise, x, depthwise_w, nullptr, z, Epilogue{});
    mid = z;
  }
  const bool need_dmid = dx || d_depthwise;
  float* dmid = need_dmid ? own_buffer(1, mid_size) : nullptr;
  // The pointwise half as one reduction over the pixels: dW = mid^T dz' and db, with dmid formed chunk by chunk
  // as dz' is packed (one pass over dy and y; see pointwise_dx_rows).
  const std::int64_t pixels = s.batch * s.out_h * s.out_w;
  gemm::PackedB wt;
  gemm::Buffer zeros(F);
  if (need_dmid) gemm::pack_b(wt, pointwise_w, F, C, 1, F);  // B(f, c) = W(c, f)
  const PointwiseDx pdx{&wt, zeros.data(), dmid, C, F};
  gemm::ReductionProblem p;
  p.m = pixels;
  p.taps = 1;
  p.kc = C;
  p.n = F;
  p.dz = dy;
  p.y = y && epilogue.activation != FusedActivation::none ? y : nullptr;
  p.ldz = F;
  p.activation = p.y ? static_cast<int>(epilogue.activation) : 0;
  p.negative_slope = epilogue.negative_slope;
  p.c = d_pointwise;
  p.ldc = F;
  p.db = db;
  if (need_dmid) {
    p.chunk_rows = &pointwise_dx_rows;
    p.chunk_rows_ctx = &pdx;
    p.chunk_rows_cost = gemm::conv_flop_cost(F) * 2.0 * static_cast<double>(F * C);
  }
  if (need_dmid || d_pointwise || db)
    gemm::reduction_gemm(p, [&](std::int64_t m0, std::int64_t m1, const float** seg) {
      for (std::int64_t pix = m0; pix < m1; ++pix) *seg++ = mid + pix * C;
    });
  if (need_dmid) depthwise2d_backward(depthwise, x, depthwise_w, nullptr, dmid, dx, d_depthwise, nullptr, Epilogue{});
}

}  // namespace convlite

// Depthwise conv2d drivers (not the GEMM path: each output channel sees one input channel, so there is nothing to
// block over K). The driver owns the geometry: every output row is cut into runs of pixels that read the same taps
// (left border, interior, right border), and one kernel call handles a run, vectorised over channels with no bounds
// checks. The input gradient is the same gather read from dz: for stride 1 the flipped kernel over dz; for larger
// strides each column phase (iw mod stride) has its own run. Depth multipliers > 1 run on an input expanded to
// the output channels (x[c] repeated dm times), so the kernels only ever see one channel per output channel.
// Forward and dx are split over rows; dW and db reduce over rows in fixed super-chunks summed in order
// (bit-identical for any thread count).
#include <algorithm>
#include <vector>

#include "convlite/conv.hpp"
#include "convlite/dispatch.hpp"
#include "convlite/parallel.hpp"
#include "gemm/gemm_driver.hpp"
#include "kernels/depthwise_kernels.hpp"

namespace convlite {

const DepthwiseKernels& depthwise_kernels() {
  switch (active_isa()) {
#if defined(CONVLITE_HAVE_AVX512)
    case Isa::avx512: return depthwise_kernels_avx512();
#endif
#if defined(CONVLITE_HAVE_AVX2)
    case Isa::avx2: return depthwise_kernels_avx2();
#endif
    default: return depthwise_kernels_scalar();
  }
}

namespace {

// One axis of the convolution. Forward: output o reads source o * stride - pad + k * dilation. Transposed (input
// gradient): dx coordinate i reads dz coordinate (i + pad - k * dilation) / stride where that divides exactly.
struct Axis {
  std::int64_t stride, dilation, pad, kernel, src_extent, out_extent;
  bool transposed;
};

struct AxisTap {
  std::int64_t k, src;  // kernel index, source coordinate
};

// The taps valid at output coordinate o, kernel index ascending.
void axis_taps(const Axis& a, std::int64_t o, std::vector<AxisTap>& taps) {
  taps.clear();
  for (std::int64_t k = 0; k < a.kernel; ++k) {
    std::int64_t src = 0;
    if (!a.transposed) {
      src = o * a.stride - a.pad + k * a.dilation;
    } else {
      const std::int64_t n = o + a.pad - k * a.dilation;
      if (n < 0 || n % a.stride) continue;
      src = n / a.stride;
    }
    if (src >= 0 && src < a.src_extent) taps.push_back({k, src});
  }
}

// Output columns first + p * step (p < count) that read the same kernel columns; the tap sources are those of
// p = 0 and advance by src_step per pixel.
struct ColumnRun {
  std::int64_t first, count, step, src_step;
  std::vector<AxisTap> taps;
};

bool same_kernel_indices(const std::vector<AxisTap>& a, const std::vector<AxisTap>& b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end(), [](AxisTap x, AxisTap y) { return x.k == y.k; });
}

// Cuts a row into runs: forward, one phase (src advances by stride); transposed, one phase per residue mod stride
// (dx advances by stride, dz by one). Every output column lands in exactly one run.
std::vector<ColumnRun> column_runs(const Axis& a) {
  std::vector<ColumnRun> runs;
  std::vector<AxisTap> taps;
  const std::int64_t phases = a.transposed ? std::min(a.stride, a.out_extent) : 1, step = a.transposed ? a.stride : 1;
  const std::int64_t src_step = a.transposed ? 1 : a.stride;
  for (std::int64_t phase = 0; phase < phases; ++phase) {
    const std::size_t phase_start = runs.size();
    for (std::int64_t o = phase; o < a.out_extent; o += step) {
      axis_taps(a, o, taps);
      if (runs.size() > phase_start && same_kernel_indices(runs.back().taps, taps)) ++runs.back().count;
      else runs.push_back({o, 1, step, src_step, taps});
    }
  }
  return runs;
}

// Everything a pass needs to cut its output rows into runs; channels = floats per pixel on both sides.
struct Pass {
  Axis rows;
  std::vector<ColumnRun> runs;
  std::int64_t kernel_w, src_h, src_w, out_w, channels;
};

Pass forward_pass(const Conv2dShape& s) {
  return {{s.stride_h, s.dilation_h, s.pad_top, s.kernel_h, s.in_h, s.out_h, false},
          column_runs({s.stride_w, s.dilation_w, s.pad_left, s.kernel_w, s.in_w, s.out_w, false}),
          s.kernel_w, s.in_h, s.in_w, s.out_w, s.out_c};
}

// The input gradient reads dz (out_h x out_w) and writes in_h x in_w pixels of out_c channels.
Pass input_grad_pass(const Conv2dShape& s) {
  return {{s.stride_h, s.dilation_h, s.pad_top, s.kernel_h, s.out_h, s.in_h, true},
          column_runs({s.stride_w, s.dilation_w, s.pad_left, s.kernel_w, s.out_w, s.in_w, true}),
          s.kernel_w, s.out_h, s.out_w, s.in_w, s.out_c};
}

// Walks output rows [r0, r1) of (batch * pass.rows.out_extent): per column run, the tap offsets into the source
// image and per_tap[t] = per_tap_base + (kernel tap) * channels, taps in row-major kernel order (row taps outer,
// column taps inner); then visit(run, per_tap, out_offset, out_step), offsets in floats.
template <class T, class Visit>
void walk_rows(const Pass& pass, const float* src, T* per_tap_base, std::int64_t r0, std::int64_t r1, Visit&& visit) {
  const std::int64_t C = pass.channels;
  // Kept per thread (grow-only): the fused backward walks one row per call, which would otherwise allocate three
  // vectors per row. No visit calls walk_rows again, so the buffers are never in use twice.
  thread_local std::vector<AxisTap> row_taps;
  thread_local std::vector<std::int64_t> offset;
  thread_local std::vector<T*> per_tap;
  for (std::int64_t r = r0; r < r1; ++r) {
    const std::int64_t b = r / pass.rows.out_extent, o = r % pass.rows.out_extent;
    axis_taps(pass.rows, o, row_taps);
    for (const ColumnRun& run : pass.runs) {
      offset.clear();
      per_tap.clear();
      for (const AxisTap& rt : row_taps)
        for (const AxisTap& ct : run.taps) {
          offset.push_back((rt.src * pass.src_w + ct.src) * C);
          per_tap.push_back(per_tap_base + (rt.k * pass.kernel_w + ct.k) * C);
        }
      DepthwiseRun dr;
      dr.src = src + b * pass.src_h * pass.src_w * C;
      dr.src_step = run.src_step * C;
      dr.offset = offset.data();
      dr.taps = static_cast<std::int64_t>(offset.size());
      dr.count = run.count;
      visit(dr, per_tap.data(), (r * pass.out_w + run.first) * C, run.step * C);
    }
  }
}

std::int64_t depth_multiplier(const Conv2dShape& s) { return s.in_c > 0 ? s.out_c / s.in_c : 1; }

// x with each channel repeated dm times (channel c*dm + m holds x[c]): the layout of the output channels. Kept in
// the calling thread's small_x workspace slot (no other op runs during a depthwise call).
const float* expand_channels(const Conv2dShape& s, const float* x, std::int64_t dm) {
  const std::int64_t pixels = s.batch * s.in_h * s.in_w;
  float* out = gemm::workspace(gemm::Slot::small_x, pixels * s.out_c);
  float* o = out;
  for (std::int64_t i = 0; i < pixels * s.in_c; ++i)
    for (std::int64_t m = 0; m < dm; ++m) *o++ = x[i];
  return out;
}

// Super-chunks of the weight gradient's reduction over output rows: from the shape alone.
std::int64_t weight_grad_supers(const Conv2dShape& s) {
  const std::int64_t rows = s.batch * s.out_h;
  return std::clamp<std::int64_t>(rows * s.out_w / 1024, 1, std::min<std::int64_t>(8, rows));
}

}  // namespace

void depthwise2d_forward(const Conv2dShape& s, const float* x, const float* w, const float* bias, float* y,
                         const Epilogue& epilogue) {
  const DepthwiseKernels& k = depthwise_kernels();
  const std::int64_t dm = depth_multiplier(s), cout = s.out_c;
  if (s.batch * s.out_h * s.out_w * cout == 0) return;
  const float* src = dm > 1 ? expand_channels(s, x, dm) : x;
  const Pass pass = forward_pass(s);
  const int act = static_cast<int>(epilogue.activation);
  parallel_for(s.batch * s.out_h, 0.25 * s.out_w * s.kernel_h * s.kernel_w * cout, [&](std::int64_t r0,
                                                                                        std::int64_t r1) {
    walk_rows(pass, src, w, r0, r1, [&](const DepthwiseRun& run, const float* const* weight, std::int64_t out,
                                        std::int64_t step) {
      k.gather(run, weight, bias, y + out, step, cout, act, epilogue.negative_slope);
    });
  });
}

namespace {

// dx rows [r0, r1) of (batch * in_h) as a gather over dz with the transposed geometry. For dm > 1 the gather fills
// the output-channel expansion of dx (target), then dx[c] sums its dm channels, m ascending.
void input_grad_rows(const DepthwiseKernels& k, const Conv2dShape& s, const Pass& pass, const float* w,
                     const float* dz, float* dx, float* target, std::int64_t r0, std::int64_t r1) {
  const std::int64_t dm = depth_multiplier(s), cout = s.out_c;
  walk_rows(pass, dz, w, r0, r1, [&](const DepthwiseRun& run, const float* const* weight, std::int64_t out,
                                     std::int64_t step) {
    k.gather(run, weight, nullptr, target + out, step, cout, 0, 0.0f);
  });
  if (dm > 1)
    for (std::int64_t p = r0 * s.in_w; p < r1 * s.in_w; ++p)
      for (std::int64_t c = 0; c < s.in_c; ++c) {
        const float* e = target + (p * s.in_c + c) * dm;
        float acc = e[0];
        for (std::int64_t j = 1; j < dm; ++j) acc += e[j];
        dx[p * s.in_c + c] = acc;
      }
}

float* input_grad_target(const Conv2dShape& s, float* dx) {
  const std::int64_t in_pixels = s.batch * s.in_h * s.in_w;
  return depth_multiplier(s) > 1 ? gemm::workspace(gemm::Slot::small_dx, in_pixels * s.out_c) : dx;
}

// dx over all rows, split over threads by rows.
void input_grad(const DepthwiseKernels& k, const Conv2dShape& s, const float* w, const float* dz, float* dx) {
  float* target = input_grad_target(s, dx);
  const Pass pass = input_grad_pass(s);
  parallel_for(s.batch * s.in_h, 0.25 * s.in_w * s.kernel_h * s.kernel_w * s.out_c,
               [&](std::int64_t r0, std::int64_t r1) { input_grad_rows(k, s, pass, w, dz, dx, target, r0, r1); });
}

// dW and db over super-chunks of whole output rows, their number from the shape alone, each summed into its own
// partial and the partials added in chunk order: the sums never depend on the thread count.
// With dx (may be null) the super-chunk also forms the matching share of dx rows, interleaved row by row with its
// dW rows, so that each dz row is read from memory once for both (8x56x56x64 inside a separable backward, dz cold:
// a second pass over 6.4 MB). dx rows do not depend on which pass forms them, so the result is the same bits as
// input_grad's; the caller fuses only when the super-chunks split evenly over the threads (dx's own pass splits
// rows evenly).
void weight_grads(const DepthwiseKernels& k, const Conv2dShape& s, const float* x, const float* w, const float* dz,
                  float* dw, float* db, float* dx) {
  const std::int64_t cout = s.out_c, taps = s.kernel_h * s.kernel_w, rows = s.batch * s.out_h;
  const std::int64_t supers = weight_grad_supers(s);
  float* partial_dw = gemm::workspace(gemm::Slot::partial, supers * taps * cout);
  float* partial_db = gemm::workspace(gemm::Slot::partial_db, supers * cout);
  std::fill(partial_dw, partial_dw + supers * taps * cout, 0.0f);
  std::fill(partial_db, partial_db + supers * cout, 0.0f);
  const std::int64_t dm = depth_multiplier(s);
  const float* src = dm > 1 && dw ? expand_channels(s, x, dm) : x;
  const Pass pass = forward_pass(s);
  const Pass dx_pass = input_grad_pass(s);
  float* target = dx ? input_grad_target(s, dx) : nullptr;
  const std::int64_t in_rows = s.batch * s.in_h;
  const double dx_cost = dx ? 0.25 * s.kernel_h * s.kernel_w * cout * static_cast<double>(in_rows * s.in_w) : 0.0;
  parallel_for(supers, (0.25 * taps * cout * static_cast<double>(rows * s.out_w) + dx_cost) / supers,
               [&](std::int64_t s0, std::int64_t s1) {
                 for (std::int64_t sc = s0; sc < s1; ++sc) {
                   const std::int64_t r0 = rows * sc / supers, r1 = rows * (sc + 1) / supers;
                   const std::int64_t q0 = in_rows * sc / supers, q1 = in_rows * (sc + 1) / supers;
                   std::int64_t q = q0;  // dx rows formed so far
                   for (std::int64_t r = r0; r < r1; ++r) {
                     if (dw)
                       walk_rows(pass, src, partial_dw + sc * taps * cout, r, r + 1,
                                 [&](const DepthwiseRun& run, float* const* grad, std::int64_t out, std::int64_t step) {
                                   k.weight_grad(run, dz + out, step, grad, cout);
                                 });
                     if (dx) {  // dx rows in proportion, all of them by the super-chunk's last row
                       const std::int64_t q_end = q0 + (q1 - q0) * (r - r0 + 1) / (r1 - r0);
                       if (q_end > q) input_grad_rows(k, s, dx_pass, w, dz, dx, target, q, q_end);
                       q = std::max(q, q_end);
                     }
                   }
                   float* pdb = partial_db + sc * cout;
                   if (db)
                     for (std::int64_t p = r0 * s.out_w; p < r1 * s.out_w; ++p)
                       for (std::int64_t o = 0; o < cout; ++o) pdb[o] += dz[p * cout + o];
                 }
               });
  for (std::int64_t sc = 1; sc < supers; ++sc) {
    for (std::int64_t i = 0; i < taps * cout; ++i) partial_dw[i] += partial_dw[sc * taps * cout + i];
    for (std::int64_t i = 0; i < cout; ++i) partial_db[i] += partial_db[sc * cout + i];
  }
  if (dw) std::copy(partial_dw, partial_dw + taps * cout, dw);
  if (db) std::copy(partial_db, partial_db + cout, db);
}

}  // namespace

void depthwise2d_backward(const Conv2dShape& s, const float* x, const float* w, const float* y, const float* dy,
                          float* dx, float* dw, float* db, const Epilogue& epilogue) {
  const DepthwiseKernels& k = depthwise_kernels();
  const std::int64_t size = s.batch * s.out_h * s.out_w * s.out_c;
  const int act = y ? static_cast<int>(epilogue.activation) : 0;
  const float* dz = dy;
  if (act && size > 0) {  // the masked gradient is read by both passes
    float* masked = gemm::workspace(gemm::Slot::masked_dz, size);
    gemm::kernels().activation_grad(dy, y, masked, size, act, epilogue.negative_slope);
    dz = masked;
  }
  const std::int64_t x_size = s.batch * s.in_h * s.in_w * s.in_c;
  if (size == 0) {  // no output pixels: nothing flows back
    if (dw) std::fill(dw, dw + s.kernel_h * s.kernel_w * s.out_c, 0.0f);
    if (db) std::fill(db, db + s.out_c, 0.0f);
    if (dx) std::fill(dx, dx + x_size, 0.0f);
    return;
  }
  const std::int64_t threads = get_num_threads(), supers = weight_grad_supers(s);
  const bool fuse_dx = (dw || db) && dx && x_size > 0 && (threads <= 1 || supers % threads == 0);
  if (dw || db) weight_grads(k, s, x, w, dz, dw, db, fuse_dx ? dx : nullptr);
  if (dx && x_size > 0 && !fuse_dx) input_grad(k, s, w, dz, dx);
}

}  // namespace convlite

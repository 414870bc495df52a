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
namespace {

const DepthwiseKernels& kernels() {
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

// Walks output rows [r0, r1) of (batch * rows.out_extent): per column run, the tap offsets into the source image
// (row taps outer, column taps inner: kernel taps in row-major order) and their kernel tap indices, then
// visit(run, tap_index, out_offset, out_step) with offsets in floats.
template <class Visit>
void walk_rows(const Axis& rows, const std::vector<ColumnRun>& runs, std::int64_t kernel_w, std::int64_t src_h,
               std::int64_t src_w, std::int64_t out_w, std::int64_t channels, const float* src, std::int64_t r0,
               std::int64_t r1, Visit&& visit) {
  std::vector<AxisTap> row_taps;
  std::vector<std::int64_t> offset, tap_index;
  for (std::int64_t r = r0; r < r1; ++r) {
    const std::int64_t b = r / rows.out_extent, o = r % rows.out_extent;
    axis_taps(rows, o, row_taps);
    for (const ColumnRun& run : runs) {
      offset.clear();
      tap_index.clear();
      for (const AxisTap& rt : row_taps)
        for (const AxisTap& ct : run.taps) {
          offset.push_back((rt.src * src_w + ct.src) * channels);
          tap_index.push_back(rt.k * kernel_w + ct.k);
        }
      DepthwiseRun dr;
      dr.src = src + b * src_h * src_w * channels;
      dr.src_step = run.src_step * channels;
      dr.offset = offset.data();
      dr.taps = static_cast<std::int64_t>(offset.size());
      dr.count = run.count;
      visit(dr, tap_index, ((b * rows.out_extent + o) * out_w + run.first) * channels, run.step * channels);
    }
  }
}

Axis forward_rows(const Conv2dShape& s) {
  return {s.stride_h, s.dilation_h, s.pad_top, s.kernel_h, s.in_h, s.out_h, false};
}
Axis forward_cols(const Conv2dShape& s) {
  return {s.stride_w, s.dilation_w, s.pad_left, s.kernel_w, s.in_w, s.out_w, false};
}

std::int64_t depth_multiplier(const Conv2dShape& s) { return s.in_c > 0 ? s.out_c / s.in_c : 1; }

// x with each channel repeated dm times (channel c*dm + m holds x[c]): the layout of the output channels. Kept in
// the calling thread's small_x workspace slot (no other op runs during a depthwise call).
const float* expand_channels(const Conv2dShape& s, const float* x, std::int64_t dm) {
  const std::int64_t pixels = s.batch * s.in_h * s.in_w;
  float* out = gemm::workspace(gemm::Slot::small_x, pixels * s.out_c);
  for (std::int64_t p = 0; p < pixels; ++p)
    for (std::int64_t c = 0; c < s.in_c; ++c) std::fill_n(out + (p * s.in_c + c) * dm, dm, x[p * s.in_c + c]);
  return out;
}

}  // namespace

void depthwise2d_forward(const Conv2dShape& s, const float* x, const float* w, const float* bias, float* y,
                         const Epilogue& epilogue) {
  const DepthwiseKernels& k = kernels();
  const std::int64_t dm = depth_multiplier(s), cout = s.out_c;
  if (s.batch * s.out_h * s.out_w * cout == 0) return;
  const float* src = dm > 1 ? expand_channels(s, x, dm) : x;
  const Axis rows = forward_rows(s);
  const std::vector<ColumnRun> runs = column_runs(forward_cols(s));
  const int act = static_cast<int>(epilogue.activation);
  parallel_for(s.batch * s.out_h, 0.25 * s.out_w * s.kernel_h * s.kernel_w * cout, [&](std::int64_t r0,
                                                                                        std::int64_t r1) {
    std::vector<const float*> weight;
    walk_rows(rows, runs, s.kernel_w, s.in_h, s.in_w, s.out_w, cout, src, r0, r1,
              [&](const DepthwiseRun& run, const std::vector<std::int64_t>& taps, std::int64_t out, std::int64_t step) {
                weight.clear();
                for (std::int64_t t : taps) weight.push_back(w + t * cout);
                k.gather(run, weight.data(), bias, y + out, step, cout, act, epilogue.negative_slope);
              });
  });
}

void depthwise2d_backward(const Conv2dShape& s, const float* x, const float* w, const float* y, const float* dy,
                          float* dx, float* dw, float* db, const Epilogue& epilogue) {
  const DepthwiseKernels& k = kernels();
  const std::int64_t dm = depth_multiplier(s), cout = s.out_c, taps = s.kernel_h * s.kernel_w;
  const std::int64_t rows_out = s.batch * s.out_h, m = rows_out * s.out_w;
  const int act = y ? static_cast<int>(epilogue.activation) : 0;
  const float* dz = dy;
  if (act && m * cout > 0) {  // the masked gradient is read by both passes
    float* masked = gemm::workspace(gemm::Slot::masked_dz, m * cout);
    gemm::kernels().activation_grad(dy, y, masked, m * cout, act, epilogue.negative_slope);
    dz = masked;
  }
  if (dw || db) {
    // Super-chunks of whole output rows, their number from the shape alone: the sums never depend on threads.
    const std::int64_t supers = std::clamp<std::int64_t>(m / 1024, 1, std::max<std::int64_t>(1, std::min<std::int64_t>(8, rows_out)));
    float* partial_dw = gemm::workspace(gemm::Slot::partial, supers * taps * cout);
    float* partial_db = gemm::workspace(gemm::Slot::partial_db, supers * cout);
    std::fill(partial_dw, partial_dw + supers * taps * cout, 0.0f);
    std::fill(partial_db, partial_db + supers * cout, 0.0f);
    const float* src = dm > 1 && dw ? expand_channels(s, x, dm) : x;
    const Axis rows = forward_rows(s);
    const std::vector<ColumnRun> runs = column_runs(forward_cols(s));
    parallel_for(supers, 0.25 * taps * cout * (static_cast<double>(m) / supers), [&](std::int64_t s0, std::int64_t s1) {
      std::vector<float*> grad;
      for (std::int64_t sc = s0; sc < s1; ++sc) {
        float* pdw = partial_dw + sc * taps * cout;
        float* pdb = partial_db + sc * cout;
        const std::int64_t r0 = rows_out * sc / supers, r1 = rows_out * (sc + 1) / supers;
        if (dw)
          walk_rows(rows, runs, s.kernel_w, s.in_h, s.in_w, s.out_w, cout, src, r0, r1,
                    [&](const DepthwiseRun& run, const std::vector<std::int64_t>& tap, std::int64_t out,
                        std::int64_t step) {
                      grad.clear();
                      for (std::int64_t t : tap) grad.push_back(pdw + t * cout);
                      k.weight_grad(run, dz + out, step, grad.data(), cout);
                    });
        if (db)
          for (std::int64_t p = r0 * s.out_w; p < r1 * s.out_w; ++p)
            for (std::int64_t o = 0; o < cout; ++o) pdb[o] += dz[p * cout + o];
      }
    });
    for (std::int64_t sc = 1; sc < supers; ++sc) {  // partial sums in super-chunk order
      for (std::int64_t i = 0; i < taps * cout; ++i) partial_dw[i] += partial_dw[sc * taps * cout + i];
      for (std::int64_t i = 0; i < cout; ++i) partial_db[i] += partial_db[sc * cout + i];
    }
    if (dw) std::copy(partial_dw, partial_dw + taps * cout, dw);
    if (db) std::copy(partial_db, partial_db + cout, db);
  }
  if (!dx) return;
  const std::int64_t in_pixels = s.batch * s.in_h * s.in_w;
  if (in_pixels * s.in_c == 0) return;
  if (m * cout == 0) {  // no output: nothing flows back
    std::fill(dx, dx + in_pixels * s.in_c, 0.0f);
    return;
  }
  // dx (or, for dm > 1, its expansion to the output channels) as a gather over dz with the transposed geometry.
  float* target = dm > 1 ? gemm::workspace(gemm::Slot::small_dx, in_pixels * cout) : dx;
  const Axis rows{s.stride_h, s.dilation_h, s.pad_top, s.kernel_h, s.out_h, s.in_h, true};
  const std::vector<ColumnRun> runs =
      column_runs({s.stride_w, s.dilation_w, s.pad_left, s.kernel_w, s.out_w, s.in_w, true});
  parallel_for(s.batch * s.in_h, 0.25 * s.in_w * taps * cout, [&](std::int64_t r0, std::int64_t r1) {
    std::vector<const float*> weight;
    walk_rows(rows, runs, s.kernel_w, s.out_h, s.out_w, s.in_w, cout, dz, r0, r1,
              [&](const DepthwiseRun& run, const std::vector<std::int64_t>& tap, std::int64_t out, std::int64_t step) {
                weight.clear();
                for (std::int64_t t : tap) weight.push_back(w + t * cout);
                k.gather(run, weight.data(), nullptr, target + out, step, cout, 0, 0.0f);
              });
    if (dm > 1)  // dx[c] = sum over m of its dm output channels, m ascending
      for (std::int64_t p = r0 * s.in_w; p < r1 * s.in_w; ++p)
        for (std::int64_t c = 0; c < s.in_c; ++c) {
          const float* e = target + (p * s.in_c + c) * dm;
          float acc = e[0];
          for (std::int64_t j = 1; j < dm; ++j) acc += e[j];
          dx[p * s.in_c + c] = acc;
        }
  });
}

}  // namespace convlite

// Direct path for small convolutions (groups 1, dilation 1, K = kh * kw * C_in <= 256 in kernel rows of kw * C_in
// <= 64 floats, F <= 32): the GEMM engine's
// per-tile pointer tables, packing and 16-wide panels cost more than the arithmetic there (the ECG model's
// Conv1D layers do 0.3-2.4 MFLOP). Padding is handled once by a zero-padded copy of the input (or of dx), so every
// output pixel's receptive field is a run of kernel rows, each kw * C_in contiguous floats, read in place.
#include "ops/conv_small.hpp"

#include <algorithm>
#include <cstring>

#include "convlite/dispatch.hpp"
#include "gemm/gemm_driver.hpp"
#include "kernels/smallconv_kernels.hpp"

namespace convlite::small_conv {
namespace {

const SmallConvKernels& table() {
  switch (active_isa()) {
#if defined(CONVLITE_HAVE_AVX2)
    case Isa::avx512:
    case Isa::avx2: return smallconv_kernels_avx2();
#endif
    default: return smallconv_kernels_scalar();
  }
}

std::int64_t round_up(std::int64_t n, std::int64_t m) { return (n + m - 1) / m * m; }

// parallel_for weighs work in units of about a byte moved; these kernels stream their data once from L1/L2, so a
// FLOP counts 1/4 (the packed GEMM's 1/32 allows for its packing and C traffic): a team forms from about 8 MFLOP
// (80 us on one core), so LeNet's and MNIST's first layers (15-25 MFLOP per batch of 64) use both cores while
// the ECG model's layers (1-2 MFLOP) stay on one.
constexpr double kDirectFlopCost = 1.0 / 4.0;

// K = kh * kw * C_in of the whole direct path (the AVX2 weight gradient gathers 32 receptive fields of K floats).
constexpr std::int64_t kMaxReduction = 256;

struct Padded {
  std::int64_t h = 0, w = 0;  // padded input size
  bool any = false;
};

Padded padded_geometry(const Conv2dShape& s) {
  Padded p;
  p.h = s.in_h + s.pad_top + s.pad_bottom;
  p.w = s.in_w + s.pad_left + s.pad_right;
  p.any = s.pad_top || s.pad_bottom || s.pad_left || s.pad_right;
  return p;
}

// Copies x (batch, in_h, in_w, C) into the middle of a zeroed (batch, ph, pw, C) buffer.
void pad_into(const Conv2dShape& s, const Padded& g, const float* x, float* xp) {
  const std::int64_t c = s.in_c, row = s.in_w * c;
  parallel_for(s.batch, 2.0 * g.h * g.w * c, [&](std::int64_t b0, std::int64_t b1) {
    for (std::int64_t b = b0; b < b1; ++b) {
      float* img = xp + b * g.h * g.w * c;
      std::fill(img, img + g.h * g.w * c, 0.0f);
      for (std::int64_t h = 0; h < s.in_h; ++h)
        std::memcpy(img + ((h + s.pad_top) * g.w + s.pad_left) * c, x + (b * s.in_h + h) * row,
                    static_cast<std::size_t>(row) * sizeof(float));
    }
  });
}

SmallConvArgs base_args(const Conv2dShape& s, const Padded& g, std::int64_t lanes) {
  SmallConvArgs a;
  a.rows = s.out_w;
  a.taps = s.kernel_h;
  a.kc = s.kernel_w * s.in_c;
  a.kcp = round_up(a.kc, lanes);
  a.f = s.out_c;
  a.ldw = round_up(s.out_c, lanes);
  a.a_stride = s.stride_w * s.in_c;
  a.tap_stride = g.w * s.in_c;
  return a;
}

// Offset of output row (b, oh)'s receptive field in the padded input.
std::int64_t row_offset(const Conv2dShape& s, const Padded& g, std::int64_t b, std::int64_t oh) {
  return (b * g.h + oh * s.stride_h) * g.w * s.in_c;
}

}  // namespace

bool eligible(const Conv2dShape& s) {
  if (s.groups != 1 || s.dilation_h != 1 || s.dilation_w != 1) return false;
  if (s.batch <= 0 || s.out_h <= 0 || s.out_w <= 0 || s.out_c <= 0 || s.in_c <= 0) return false;
  if (s.kernel_h * s.kernel_w * s.in_c > kMaxReduction || s.kernel_w * s.in_c > 64 || s.out_c > 32) return false;
  if (s.pad_top < 0 || s.pad_bottom < 0 || s.pad_left < 0 || s.pad_right < 0) return false;
  const Padded g = padded_geometry(s);  // every receptive field must lie inside the padded input
  return (s.out_h - 1) * s.stride_h + s.kernel_h <= g.h && (s.out_w - 1) * s.stride_w + s.kernel_w <= g.w;
}

void forward(const Conv2dShape& s, const float* x, const float* w, const float* bias, float* y,
             const Epilogue& epilogue) {
  const SmallConvKernels& kt = table();
  const Padded g = padded_geometry(s);
  SmallConvArgs args = base_args(s, g, kt.lanes);
  const std::int64_t k_total = args.taps * args.kc, f = s.out_c, ldw = args.ldw;
  float* wp = gemm::workspace(gemm::Slot::small_w, k_total * ldw);
  for (std::int64_t k = 0; k < k_total; ++k) {
    std::memcpy(wp + k * ldw, w + k * f, static_cast<std::size_t>(f) * sizeof(float));
    std::fill(wp + k * ldw + f, wp + (k + 1) * ldw, 0.0f);
  }
  float* bp = nullptr;
  if (bias) {
    bp = gemm::workspace(gemm::Slot::small_bias, ldw);
    std::memcpy(bp, bias, static_cast<std::size_t>(f) * sizeof(float));
    std::fill(bp + f, bp + ldw, 0.0f);
  }
  const float* xp = x;
  if (g.any) {
    float* buf = gemm::workspace(gemm::Slot::small_x, s.batch * g.h * g.w * s.in_c);
    pad_into(s, g, x, buf);
    xp = buf;
  }
  args.w = wp;
  args.bias = bp;
  args.activation = static_cast<int>(epilogue.activation);
  args.negative_slope = epilogue.negative_slope;
  const std::int64_t out_rows = s.batch * s.out_h;
  parallel_for(out_rows, kDirectFlopCost * 2.0 * k_total * f * s.out_w, [&](std::int64_t r0, std::int64_t r1) {
    SmallConvArgs a = args;
    for (std::int64_t r = r0; r < r1; ++r) {
      a.a = xp + row_offset(s, g, r / s.out_h, r % s.out_h);
      a.y = y + r * s.out_w * f;
      kt.forward(a);
    }
  });
}

void backward(const Conv2dShape& s, const float* x, const float* w, const float* y, const float* dy, float* dx,
              float* dw, float* db, const Epilogue& epilogue) {
  const SmallConvKernels& kt = table();
  const Padded g = padded_geometry(s);
  SmallConvArgs args = base_args(s, g, kt.lanes);
  const std::int64_t k_total = args.taps * args.kc, f = s.out_c, ldw = args.ldw;
  const std::int64_t m = s.batch * s.out_h * s.out_w, out_rows = s.batch * s.out_h;
  const int act = y ? static_cast<int>(epilogue.activation) : 0;
  const float* dz = dy;
  // Without dx the weight-grad kernel masks dy as it loads it; with dx, dz = dy * act'(y) is formed once for both.
  const bool fused_mask = act && !dx;
  if (act && dx) {
    float* masked = gemm::workspace(gemm::Slot::masked_dz, m * f);
    gemm::masked_gradient(dy, y, masked, m * f, act, epilogue.negative_slope);
    dz = masked;
  }
  args.dz = nullptr;
  if (dw || db) {
    const float* xp = x;
    if (g.any) {
      float* buf = gemm::workspace(gemm::Slot::small_x, s.batch * g.h * g.w * s.in_c);
      pad_into(s, g, x, buf);
      xp = buf;
    }
    // Fixed super-chunks of output rows (a function of the shape alone) reduce into partials summed in order:
    // bit-identical for any thread count.
    // (At least 1024 pixels each, so that LeNet conv2's 6400 pixels per batch of 64 still split over two threads.)
    const std::int64_t supers = std::clamp<std::int64_t>(m / 1024, 1, std::min<std::int64_t>(8, out_rows));
    const std::int64_t stride = k_total * ldw + ldw;
    // Blocks of output rows (about 256 pixels, fixed by the shape) sum into their own zeroed block.
    const std::int64_t rows_per_block = std::max<std::int64_t>(1, 256 / s.out_w);
    float* partial = gemm::workspace(gemm::Slot::partial, supers * stride);
    parallel_for(supers, kDirectFlopCost * 2.0 * k_total * f * (static_cast<double>(m) / supers),
                 [&](std::int64_t s0, std::int64_t s1) {
                   SmallConvArgs a = args;
                   // Each block of rows sums into its own zeroed block, added to the super-chunk partial: blocked
                   // summation keeps the rounding error of long reductions small (as the GEMM path's chunks).
                   float* row_sum = gemm::workspace(gemm::Slot::small_w, stride);
                   a.dw = dw ? row_sum : nullptr;
                   a.db = db ? row_sum + k_total * ldw : nullptr;
                   a.mask_activation = fused_mask ? act : 0;
                   a.row_pixels = s.out_w;
                   a.row_stride = s.stride_h * g.w * s.in_c;
                   a.negative_slope = epilogue.negative_slope;
                   for (std::int64_t sc = s0; sc < s1; ++sc) {
                     float* part = partial + sc * stride;
                     std::fill(part, part + stride, 0.0f);
                     const std::int64_t r_end = out_rows * (sc + 1) / supers;
                     for (std::int64_t r0 = out_rows * sc / supers; r0 < r_end; r0 += rows_per_block) {
                       std::fill(row_sum, row_sum + stride, 0.0f);
                       // One call per run of output rows within an image (the kernel's register tiles then
                       // stream more than one short row between loads and stores of dW).
                       const std::int64_t r_stop = std::min(r_end, r0 + rows_per_block);
                       for (std::int64_t r = r0; r < r_stop;) {
                         const std::int64_t run = std::min(r_stop, (r / s.out_h + 1) * s.out_h) - r;
                         a.a = xp + row_offset(s, g, r / s.out_h, r % s.out_h);
                         a.dz = dz + r * s.out_w * f;
                         a.mask_y = fused_mask ? y + r * s.out_w * f : nullptr;
                         a.rows = run * s.out_w;
                         kt.weight_grad(a);
                         r += run;
                       }
                       for (std::int64_t i = 0; i < stride; ++i) part[i] += row_sum[i];
                     }
                   }
                 });
    for (std::int64_t sc = 0; sc < supers; ++sc) {
      const float* part = partial + sc * stride;
      if (dw)
        for (std::int64_t k = 0; k < k_total; ++k)
          for (std::int64_t j = 0; j < f; ++j) dw[k * f + j] = sc ? dw[k * f + j] + part[k * ldw + j] : part[k * ldw + j];
      if (db)
        for (std::int64_t j = 0; j < f; ++j) db[j] = sc ? db[j] + part[k_total * ldw + j] : part[k_total * ldw + j];
    }
  }
  if (dx) input_grad(s, w, dz, dx);
}

bool input_grad_eligible(const Conv2dShape& s) {
  if (s.groups != 1 || s.dilation_h != 1 || s.dilation_w != 1) return false;
  if (s.batch <= 0 || s.out_h <= 0 || s.out_w <= 0 || s.out_c <= 0 || s.in_c <= 0) return false;
  if (s.kernel_w * s.in_c > 64 || s.out_c > 32) return false;
  if (s.pad_top < 0 || s.pad_bottom < 0 || s.pad_left < 0 || s.pad_right < 0) return false;
  const Padded g = padded_geometry(s);
  return (s.out_h - 1) * s.stride_h + s.kernel_h <= g.h && (s.out_w - 1) * s.stride_w + s.kernel_w <= g.w;
}

void input_grad(const Conv2dShape& s, const float* w, const float* dz, float* dx) {
  const SmallConvKernels& kt = table();
  const Padded g = padded_geometry(s);
  SmallConvArgs args = base_args(s, g, kt.lanes);
  const std::int64_t k_total = args.taps * args.kc, f = s.out_c, ldw = args.ldw, kcp = args.kcp;
  // wt[(t * ldw + j) * kcp + k] = w[(t * kc + k) * f + j], zero-padded.
  float* wt = gemm::workspace(gemm::Slot::weights_t, args.taps * ldw * kcp);
  std::fill(wt, wt + args.taps * ldw * kcp, 0.0f);
  for (std::int64_t t = 0; t < args.taps; ++t)
    for (std::int64_t k = 0; k < args.kc; ++k)
      for (std::int64_t j = 0; j < f; ++j) wt[(t * ldw + j) * kcp + k] = w[(t * args.kc + k) * f + j];
  args.w = wt;
  const std::int64_t img = g.h * g.w * s.in_c;
  float* dxp = g.any ? gemm::workspace(gemm::Slot::small_dx, s.batch * img) : dx;
  // One image per item: its output rows scatter in order into its own (padded) dx, so no partition changes a sum.
  parallel_for(s.batch, kDirectFlopCost * 2.0 * k_total * f * s.out_h * s.out_w, [&](std::int64_t b0, std::int64_t b1) {
    SmallConvArgs a = args;
    for (std::int64_t b = b0; b < b1; ++b) {
      float* d = dxp + b * img;
      std::fill(d, d + img, 0.0f);
      for (std::int64_t oh = 0; oh < s.out_h; ++oh) {
        a.dx = dxp + row_offset(s, g, b, oh);
        a.dx_room = d + img - a.dx;
        a.dz = dz + (b * s.out_h + oh) * s.out_w * f;
        kt.input_grad(a);
      }
      if (g.any) {
        const std::int64_t row = s.in_w * s.in_c;
        for (std::int64_t h = 0; h < s.in_h; ++h)
          std::memcpy(dx + (b * s.in_h + h) * row, d + ((h + s.pad_top) * g.w + s.pad_left) * s.in_c,
                      static_cast<std::size_t>(row) * sizeof(float));
      }
    }
  });
}

}  // namespace convlite::small_conv

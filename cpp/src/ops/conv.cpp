// conv2d as implicit GEMM over NHWC: M = batch * out_h * out_w pixels, N = filters, K = kh * kw * C_in / groups.
// The microkernel reads A through per-row, per-tap pointers into the input (a shared zero row stands for
// padding), so no im2col buffer is ever written. With groups == 1 and dilation_w == 1 the kw taps of one kernel
// row are contiguous in NHWC, so a tap becomes a whole kernel row (kc = kw * C_in): long inner loops even for
// C_in = 1. Border pixels of that mode get a small zero-padded copy of their row in per-tile scratch.
#include <algorithm>
#include <vector>

#include "convlite/conv.hpp"
#include "gemm/gemm_driver.hpp"
#include "ops/conv_small.hpp"
#include "ops/conv_winograd.hpp"

namespace convlite {
namespace {

int activation_code(const Epilogue& e) { return static_cast<int>(e.activation); }

}  // namespace

void conv2d_forward(const Conv2dShape& s, const float* x, const float* w, const float* bias, float* y,
                    const Epilogue& epilogue) {
  if (winograd::forward_eligible(s)) return winograd::forward(s, x, w, bias, y, epilogue);  // 3x3 stride 1
  if (small_conv::eligible(s)) return small_conv::forward(s, x, w, bias, y, epilogue);
  const std::int64_t groups = s.groups, cg = s.in_c / groups, fg = s.out_c / groups;
  const std::int64_t m = s.batch * s.out_h * s.out_w;
  if (m <= 0 || s.out_c <= 0) return;
  const std::int64_t mr = gemm::kernels().mr, nr = gemm::kernels().nr;
  const bool rows_mode = groups == 1 && s.dilation_w == 1 && s.kernel_w > 1;
  const std::int64_t taps = rows_mode ? s.kernel_h : s.kernel_h * s.kernel_w;
  const std::int64_t kc = rows_mode ? s.kernel_w * s.in_c : cg;
  const std::int64_t k_total = s.kernel_h * s.kernel_w * cg;
  gemm::Buffer zeros(std::max<std::int64_t>(kc, 1));
  const float* zero_row = zeros.data();
  const std::int64_t hw_out = s.out_h * s.out_w;
  for (std::int64_t g = 0; g < groups; ++g) {
    gemm::PackedB packed;
    gemm::pack_b(packed, w + g * fg, k_total, fg, s.out_c, 1);
    gemm::Buffer padded_bias;
    if (bias) gemm::pad_bias(padded_bias, bias + g * fg, fg, nr);
    gemm::IndirectProblem p;
    p.m = m;
    p.taps = taps;
    p.kc = kc;
    p.b = &packed;
    p.bias = bias ? padded_bias.data() : nullptr;
    p.activation = activation_code(epilogue);
    p.negative_slope = epilogue.negative_slope;
    p.scratch_per_tile = rows_mode ? taps * mr * kc : 0;
    gemm::indirect_gemm(p, [&](std::int64_t m0, std::int64_t mv, const float** a, std::int64_t* tap_of,
                               float** c, float* scratch) {
      std::int64_t bi[16], iy0[16], ix0[16];
      for (std::int64_t r = 0; r < mv; ++r) {
        const std::int64_t pix = m0 + r, b = pix / hw_out, rem = pix % hw_out;
        bi[r] = b;
        iy0[r] = (rem / s.out_w) * s.stride_h - s.pad_top;
        ix0[r] = (rem % s.out_w) * s.stride_w - s.pad_left;
        c[r] = y + pix * s.out_c + g * fg;
      }
      std::int64_t kept = 0;
      for (std::int64_t t = 0; t < taps; ++t) {
        const std::int64_t i = rows_mode ? t : t / s.kernel_w, j = rows_mode ? 0 : t % s.kernel_w;
        bool any = false;
        for (std::int64_t r = 0; r < mr; ++r) {
          const float* ptr = zero_row;
          const std::int64_t ih = r < mv ? iy0[r] + i * s.dilation_h : -1;
          if (r < mv && ih >= 0 && ih < s.in_h) {
            const float* row = x + (bi[r] * s.in_h + ih) * s.in_w * s.in_c;
            if (rows_mode) {
              const std::int64_t x0 = ix0[r];
              if (x0 >= 0 && x0 + s.kernel_w <= s.in_w) {
                ptr = row + x0 * s.in_c;
              } else {  // partly outside: a zero-padded copy of the visible part
                float* copy = scratch + (t * mr + r) * kc;
                for (std::int64_t jj = 0; jj < s.kernel_w; ++jj) {
                  const std::int64_t iw = x0 + jj;
                  for (std::int64_t ci = 0; ci < s.in_c; ++ci)
                    copy[jj * s.in_c + ci] = (iw >= 0 && iw < s.in_w) ? row[iw * s.in_c + ci] : 0.0f;
                }
                ptr = copy;
              }
            } else {
              const std::int64_t iw = ix0[r] + j * s.dilation_w;
              if (iw >= 0 && iw < s.in_w) ptr = row + iw * s.in_c + g * cg;
            }
          }
          a[kept * mr + r] = ptr;
          any = any || ptr != zero_row;
        }
        if (any) tap_of[kept++] = t;
      }
      return kept;
    });
  }
}

namespace {

// Input gradient at stride 1, dilation 1, groups 1 as a forward convolution: dx = valid conv of dz, padded by
// (kh - 1 - pad_top, kw - 1 - pad_left) before and enough after, with the kernel flipped in space and transposed
// (F in, C_in out). The forward engine then reads whole kernel rows of the padded dz in place, instead of a
// pointer per pixel and tap with a divisibility test. The activation mask is applied while padding. It pays
// where the per-tap reduction (F) is short, so that pointer tables cost as much as the FMAs (LeNet conv2, batch
// 64, one thread: 2.1 vs 2.8 ms; the direct kernel of conv_small.cpp now takes that shape, 0.5 ms); with F >= 32
// the border taps it multiplies by zero cost more (MNIST conv2: 5.8 vs 4.9 ms).
constexpr std::int64_t kDxForwardMaxFilters = 32;
bool dx_as_forward(const Conv2dShape& s) {
  if (s.out_c >= kDxForwardMaxFilters) return false;
  if (s.groups != 1 || s.stride_h != 1 || s.stride_w != 1 || s.dilation_h != 1 || s.dilation_w != 1) return false;
  const std::int64_t top = s.kernel_h - 1 - s.pad_top, left = s.kernel_w - 1 - s.pad_left;
  const std::int64_t bottom = s.in_h + s.kernel_h - 1 - s.out_h - top, right = s.in_w + s.kernel_w - 1 - s.out_w - left;
  return top >= 0 && left >= 0 && bottom >= 0 && right >= 0 && s.batch > 0 && s.out_h > 0 && s.out_w > 0;
}

void input_grad_by_forward(const Conv2dShape& s, const float* w, const float* y, const float* dy, float* dx,
                           const Epilogue& e, int act) {
  const std::int64_t f = s.out_c, c = s.in_c, kh = s.kernel_h, kw = s.kernel_w;
  const std::int64_t top = kh - 1 - s.pad_top, left = kw - 1 - s.pad_left;
  const std::int64_t ph = s.in_h + kh - 1, pw = s.in_w + kw - 1;
  float* dzp = gemm::workspace(gemm::Slot::dx_dz, s.batch * ph * pw * f);
  const GemmKernels& kt = gemm::kernels();
  parallel_for(s.batch, 3.0 * ph * pw * f, [&](std::int64_t b0, std::int64_t b1) {
    for (std::int64_t b = b0; b < b1; ++b) {
      float* img = dzp + b * ph * pw * f;
      std::fill(img, img + ph * pw * f, 0.0f);
      for (std::int64_t oh = 0; oh < s.out_h; ++oh) {
        const std::int64_t at = (b * s.out_h + oh) * s.out_w * f, n = s.out_w * f;
        float* dst = img + ((oh + top) * pw + left) * f;
        if (act)
          kt.activation_grad(dy + at, y + at, dst, n, act, e.negative_slope);
        else
          std::copy(dy + at, dy + at + n, dst);
      }
    }
  });
  float* wf = gemm::workspace(gemm::Slot::dx_w, kh * kw * f * c);  // wf[i][j][f][c] = w[kh-1-i][kw-1-j][c][f]
  for (std::int64_t i = 0; i < kh; ++i)
    for (std::int64_t j = 0; j < kw; ++j) {
      const float* src = w + ((kh - 1 - i) * kw + (kw - 1 - j)) * c * f;
      float* dst = wf + (i * kw + j) * f * c;
      for (std::int64_t ci = 0; ci < c; ++ci)
        for (std::int64_t fi = 0; fi < f; ++fi) dst[fi * c + ci] = src[ci * f + fi];
    }
  Conv2dShape t;
  t.batch = s.batch;
  t.in_h = ph, t.in_w = pw, t.in_c = f;
  t.out_h = s.in_h, t.out_w = s.in_w, t.out_c = c;
  t.kernel_h = kh, t.kernel_w = kw;
  conv2d_forward(t, dzp, wf, nullptr, dx, Epilogue{});
}

}  // namespace

bool conv2d_is_direct(const Conv2dShape& s) {
  return small_conv::eligible(s) && !winograd::forward_eligible(s) && !winograd::weight_grad_eligible(s) &&
         !winograd::input_grad_eligible(s);
}

void conv2d_backward(const Conv2dShape& s, const float* x, const float* w, const float* y, const float* dy,
                     float* dx, float* dw, float* db, const Epilogue& epilogue) {
  // The direct path, except for the parts Winograd is chosen for (where it measured faster): its weight gradient,
  // or its input gradient (that case keeps the input-gradient route below, as before the direct path grew to
  // K = 256). The weight gradient's route never depends on whether dx is wanted, so dW is the same bits either way.
  if (small_conv::eligible(s) && !winograd::weight_grad_eligible(s)) {
    if (!(dx && winograd::input_grad_eligible(s))) return small_conv::backward(s, x, w, y, dy, dx, dw, db, epilogue);
    if (dw || db) small_conv::backward(s, x, w, y, dy, nullptr, dw, db, epilogue);
    dw = db = nullptr;  // dx below
  }
  const std::int64_t groups = s.groups, cg = s.in_c / groups, fg = s.out_c / groups;
  const std::int64_t m = s.batch * s.out_h * s.out_w;
  const std::int64_t taps = s.kernel_h * s.kernel_w;
  const int act = y ? activation_code(epilogue) : 0;
  // The mask is applied on the fly while dW packs dz; dx reads dz through pointers, so when dx is wanted too
  // the masked gradient is formed once.
  const float* dz = dy;
  const float* mask_y = act ? y : nullptr;
  // Short kernel rows (kw * C_in <= 64) and few filters: the direct kernel scatters each pixel's kernel rows
  // (LeNet conv2, 6 -> 16 channels 5x5: 0.5 ms against 2.0 ms as a forward convolution, whose padded dz
  // multiplies zeros half the time).
  const bool dx_small = dx && m > 0 && small_conv::input_grad_eligible(s) && !winograd::input_grad_eligible(s);
  // Where the Winograd input gradient goes over dy's tiles (valid padding), it beats the forward route for the few
  // filters that route takes too (64 x 13x13, 32 -> 16: 0.65 against 1.00 ms; 10x10: 0.30 against 0.57).
  const bool dx_winograd_dy = winograd::input_grad_eligible(s) && winograd::input_grad_over_dy(s);
  const bool dx_forward = dx && m > 0 && !dx_small && !dx_winograd_dy && dx_as_forward(s);
  // Winograd weight gradient (3x3 stride 1 with enough channels, as the forward): reads dz already masked.
  const bool dw_winograd = (dw || db) && m > 0 && winograd::weight_grad_eligible(s);
  // When the reduction driver forms dW and dx follows, the driver writes the masked gradient out as it packs dz
  // (one pass over dy and y instead of two: 56x56x128 pointwise, 25 MB read less).
  float* masked_by_dw = nullptr;
  if (act && m > 0 && ((dx && !dx_forward) || dw_winograd)) {
    float* masked = gemm::workspace(gemm::Slot::masked_dz, m * s.out_c);
    if ((dw || db) && !dw_winograd && s.in_c > 0) {  // (with no input channels the driver packs nothing)
      masked_by_dw = masked;
    } else {
      gemm::masked_gradient(dy, y, masked, m * s.out_c, activation_code(epilogue), epilogue.negative_slope);
      dz = masked;
      mask_y = nullptr;
    }
  }
  const std::int64_t hw_out = s.out_h * s.out_w;
  // The Winograd weight gradient also writes dx when both go over dy's 4x4 tiles (they share dM), then done here.
  if (dw_winograd && winograd::weight_grad(s, x, dz, dw, db, w, dx_forward || dx_small ? nullptr : dx)) dx = nullptr;
  if ((dw || db) && !dw_winograd) {
    // Rows mode (groups 1, dilation_w 1): a segment is a whole kernel row, kw * C_in contiguous floats of a
    // zero-padded copy of x (made only when there is padding), so the reduction reads long runs in place and the
    // segment table has kh entries per pixel instead of kh * kw. Its K order (i, j, c) is the HWIO order.
    const bool rows_mode = groups == 1 && s.dilation_w == 1 && s.kernel_w > 1;
    const std::int64_t pad_h = s.in_h + s.pad_top + s.pad_bottom, pad_w = s.in_w + s.pad_left + s.pad_right;
    const bool fits = (s.out_h - 1) * s.stride_h + (s.kernel_h - 1) * s.dilation_h + 1 <= pad_h &&
                      (s.out_w - 1) * s.stride_w + s.kernel_w <= pad_w && s.pad_top >= 0 && s.pad_bottom >= 0 &&
                      s.pad_left >= 0 && s.pad_right >= 0;
    const bool use_rows = rows_mode && fits;
    const float* xp = x;
    if (use_rows && (s.pad_top || s.pad_bottom || s.pad_left || s.pad_right) && m > 0) {
      float* buf = gemm::workspace(gemm::Slot::small_x, s.batch * pad_h * pad_w * s.in_c);
      const std::int64_t row = s.in_w * s.in_c;
      parallel_for(s.batch, 2.0 * pad_h * pad_w * s.in_c, [&](std::int64_t b0, std::int64_t b1) {
        for (std::int64_t b = b0; b < b1; ++b) {
          float* img = buf + b * pad_h * pad_w * s.in_c;
          std::fill(img, img + pad_h * pad_w * s.in_c, 0.0f);
          for (std::int64_t h = 0; h < s.in_h; ++h)
            std::copy(x + (b * s.in_h + h) * row, x + (b * s.in_h + h + 1) * row,
                      img + ((h + s.pad_top) * pad_w + s.pad_left) * s.in_c);
        }
      });
      xp = buf;
    }
    for (std::int64_t g = 0; g < groups; ++g) {
      gemm::ReductionProblem p;
      p.m = m;
      p.taps = use_rows ? s.kernel_h : taps;
      p.kc = use_rows ? s.kernel_w * s.in_c : cg;
      p.n = fg;
      p.dz = dz + g * fg;
      p.y = mask_y ? mask_y + g * fg : nullptr;
      p.ldz = s.out_c;
      p.activation = mask_y ? act : 0;
      p.negative_slope = epilogue.negative_slope;
      p.c = dw ? dw + g * fg : nullptr;
      p.ldc = s.out_c;
      p.db = db ? db + g * fg : nullptr;
      p.dz_out = masked_by_dw ? masked_by_dw + g * fg : nullptr;
      if (use_rows) {
        gemm::reduction_gemm(p, [&](std::int64_t m0, std::int64_t m1, const float** seg) {
          std::int64_t b = m0 / hw_out, oh = (m0 % hw_out) / s.out_w, ow = m0 % s.out_w;
          for (std::int64_t pix = m0; pix < m1; ++pix) {
            const float* base = xp + ((b * pad_h + oh * s.stride_h) * pad_w + ow * s.stride_w) * s.in_c;
            for (std::int64_t i = 0; i < s.kernel_h; ++i) *seg++ = base + i * s.dilation_h * pad_w * s.in_c;
            if (++ow == s.out_w) {
              ow = 0;
              if (++oh == s.out_h) oh = 0, ++b;
            }
          }
        });
        continue;
      }
      gemm::reduction_gemm(p, [&](std::int64_t m0, std::int64_t m1, const float** seg) {
        for (std::int64_t pix = m0; pix < m1; ++pix) {
          const std::int64_t b = pix / hw_out, rem = pix % hw_out;
          const std::int64_t iy0 = (rem / s.out_w) * s.stride_h - s.pad_top;
          const std::int64_t ix0 = (rem % s.out_w) * s.stride_w - s.pad_left;
          for (std::int64_t i = 0; i < s.kernel_h; ++i) {
            const std::int64_t ih = iy0 + i * s.dilation_h;
            const bool row_inside = ih >= 0 && ih < s.in_h;
            const float* row = x + (b * s.in_h + ih) * s.in_w * s.in_c + g * cg;
            for (std::int64_t j = 0; j < s.kernel_w; ++j) {
              const std::int64_t iw = ix0 + j * s.dilation_w;
              *seg++ = row_inside && iw >= 0 && iw < s.in_w ? row + iw * s.in_c : nullptr;
            }
          }
        }
      });
    }
  }
  if (!dx) return;
  if (masked_by_dw) dz = masked_by_dw;
  if (dx_forward) return input_grad_by_forward(s, w, y, dy, dx, epilogue, act);
  if (dx_small) return small_conv::input_grad(s, w, dz, dx);
  const std::int64_t hw_in = s.in_h * s.in_w;
  const std::int64_t m_in = s.batch * hw_in;
  if (m_in <= 0) return;
  if (m <= 0 || s.out_c <= 0) {
    std::fill(dx, dx + m_in * s.in_c, 0.0f);
    return;
  }
  // Winograd hook (owned by conv_winograd.cpp): 3x3 stride-1 input gradients with enough channels.
  if (winograd::input_grad_eligible(s)) return winograd::input_grad(s, dz, w, dx);
  // dx = dz convolved with the flipped, transposed kernel: for input pixel (ih, iw) and tap (i, j) the output
  // pixel is ((ih + pad - i*d) / stride) when that divides. Pixels are visited phase by phase (ih mod stride_h,
  // iw mod stride_w) so that a tile's pixels share their live taps and dead taps are skipped whole: stride > 1
  // costs no wasted FLOPs.
  // Within a phase, pixels are grouped by their set of live kernel rows and columns (border pixels of a small
  // image miss some), so that a tile's rows share their dead taps and those are skipped instead of multiplied by
  // zero rows (MNIST conv2, 13x13: 29% of the pixel-tap pairs are dead). Each pixel's sum is the same whatever
  // its tile.
  auto live_class = [](std::int64_t n, std::int64_t k, std::int64_t pad, std::int64_t dil, std::int64_t stride,
                       std::int64_t out) {
    std::vector<std::int64_t> cls(n);
    std::vector<std::vector<char>> seen;
    for (std::int64_t p = 0; p < n; ++p) {
      std::vector<char> live(k + 1);
      live[k] = static_cast<char>(p % stride);
      for (std::int64_t i = 0; i < k; ++i) {
        const std::int64_t q = p + pad - i * dil;
        live[i] = q >= 0 && q % stride == 0 && q / stride < out;
      }
      const auto it = std::find(seen.begin(), seen.end(), live);
      cls[p] = it - seen.begin();
      if (it == seen.end()) seen.push_back(live);
    }
    return cls;
  };
  const std::vector<std::int64_t> cls_h = live_class(s.in_h, s.kernel_h, s.pad_top, s.dilation_h, s.stride_h, s.out_h);
  const std::vector<std::int64_t> cls_w =
      live_class(s.in_w, s.kernel_w, s.pad_left, s.dilation_w, s.stride_w, s.out_w);
  std::vector<std::int64_t> order(hw_in);
  for (std::int64_t i = 0; i < hw_in; ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](std::int64_t a, std::int64_t b) {
    const std::int64_t ha = cls_h[a / s.in_w], hb = cls_h[b / s.in_w];
    if (ha != hb) return ha < hb;
    return cls_w[a % s.in_w] < cls_w[b % s.in_w];
  });
  gemm::Buffer zeros(std::max<std::int64_t>(fg, 1));
  const float* zero_row = zeros.data();
  const std::int64_t mr = gemm::kernels().mr;
  for (std::int64_t g = 0; g < groups; ++g) {
    float* wt = gemm::workspace(gemm::Slot::weights_t, taps * fg * cg);  // wt[(t*fg + f)*cg + c] = w[t, c, g*fg + f]
    for (std::int64_t t = 0; t < taps; ++t)
      for (std::int64_t c = 0; c < cg; ++c)
        for (std::int64_t f = 0; f < fg; ++f)
          wt[(t * fg + f) * cg + c] = w[(t * cg + c) * s.out_c + g * fg + f];
    gemm::PackedB packed;
    gemm::pack_b(packed, wt, taps * fg, cg, cg, 1);
    gemm::IndirectProblem p;
    p.m = m_in;
    p.taps = taps;
    p.kc = fg;
    p.b = &packed;
    gemm::indirect_gemm(p, [&](std::int64_t m0, std::int64_t mv, const float** a, std::int64_t* tap_of,
                               float** c, float*) {
      std::int64_t bi[16], yy[16], xx[16];
      for (std::int64_t r = 0; r < mv; ++r) {
        const std::int64_t idx = m0 + r, b = idx / hw_in, pix = order[idx % hw_in];
        bi[r] = b;
        yy[r] = pix / s.in_w + s.pad_top;
        xx[r] = pix % s.in_w + s.pad_left;
        c[r] = dx + (b * hw_in + pix) * s.in_c + g * cg;
      }
      std::int64_t kept = 0;
      for (std::int64_t t = 0; t < taps; ++t) {
        const std::int64_t i = t / s.kernel_w, j = t % s.kernel_w;
        bool any = false;
        for (std::int64_t r = 0; r < mr; ++r) {
          const float* ptr = zero_row;
          if (r < mv) {
            const std::int64_t nh = yy[r] - i * s.dilation_h, nw = xx[r] - j * s.dilation_w;
            if (nh >= 0 && nw >= 0 && nh % s.stride_h == 0 && nw % s.stride_w == 0) {
              const std::int64_t oh = nh / s.stride_h, ow = nw / s.stride_w;
              if (oh < s.out_h && ow < s.out_w) ptr = dz + ((bi[r] * s.out_h + oh) * s.out_w + ow) * s.out_c + g * fg;
            }
          }
          a[kept * mr + r] = ptr;
          any = any || ptr != zero_row;
        }
        if (any) tap_of[kept++] = t;
      }
      return kept;
    });
  }
}

}  // namespace convlite

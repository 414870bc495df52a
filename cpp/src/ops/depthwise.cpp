// Depthwise conv2d drivers: per-pixel kernels vectorised over channels (not the GEMM path: each output channel
// sees one input channel, so there is nothing to block over K). Forward and dx are split over output/input rows;
// dW and db reduce over pixels in fixed super-chunks summed in order (bit-identical for any thread count).
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

std::int64_t depth_multiplier(const Conv2dShape& s) { return s.in_c > 0 ? s.out_c / s.in_c : 1; }

}  // namespace

void depthwise2d_forward(const Conv2dShape& s, const float* x, const float* w, const float* bias, float* y,
                         const Epilogue& epilogue) {
  const DepthwiseKernels& k = kernels();
  const std::int64_t dm = depth_multiplier(s), cout = s.out_c, taps = s.kernel_h * s.kernel_w;
  const std::int64_t rows = s.batch * s.out_h;
  parallel_for(rows, 0.25 * s.out_w * taps * cout, [&](std::int64_t r0, std::int64_t r1) {
    std::vector<const float*> xp(taps), wp(taps);
    for (std::int64_t row = r0; row < r1; ++row) {
      const std::int64_t b = row / s.out_h, oh = row % s.out_h;
      for (std::int64_t ow = 0; ow < s.out_w; ++ow) {
        std::int64_t n = 0;
        for (std::int64_t t = 0; t < taps; ++t) {
          const std::int64_t ih = oh * s.stride_h - s.pad_top + (t / s.kernel_w) * s.dilation_h;
          const std::int64_t iw = ow * s.stride_w - s.pad_left + (t % s.kernel_w) * s.dilation_w;
          if (ih < 0 || ih >= s.in_h || iw < 0 || iw >= s.in_w) continue;
          xp[n] = x + ((b * s.in_h + ih) * s.in_w + iw) * s.in_c;
          wp[n++] = w + t * cout;
        }
        k.forward_pixel(n, xp.data(), wp.data(), bias, y + ((b * s.out_h + oh) * s.out_w + ow) * cout, s.in_c, dm,
                        static_cast<int>(epilogue.activation), epilogue.negative_slope);
      }
    }
  });
}

void depthwise2d_backward(const Conv2dShape& s, const float* x, const float* w, const float* y, const float* dy,
                          float* dx, float* dw, float* db, const Epilogue& epilogue) {
  const DepthwiseKernels& k = kernels();
  const std::int64_t dm = depth_multiplier(s), cout = s.out_c, taps = s.kernel_h * s.kernel_w;
  const std::int64_t m = s.batch * s.out_h * s.out_w;
  const int act = y ? static_cast<int>(epilogue.activation) : 0;
  const float* dz = dy;
  if (act && m > 0) {  // the masked gradient is read by both passes
    float* masked = gemm::workspace(gemm::Slot::masked_dz, m * cout);
    gemm::kernels().activation_grad(dy, y, masked, m * cout, act, epilogue.negative_slope);
    dz = masked;
  }
  if (dw || db) {
    const std::int64_t supers = std::clamp<std::int64_t>(m / 1024, 1, 8);  // from m alone: reproducible
    float* partial_dw = gemm::workspace(gemm::Slot::partial, supers * taps * cout);
    float* partial_db = gemm::workspace(gemm::Slot::partial_db, supers * cout);
    std::fill(partial_dw, partial_dw + supers * taps * cout, 0.0f);
    std::fill(partial_db, partial_db + supers * cout, 0.0f);
    parallel_for(supers, 0.25 * taps * cout * (static_cast<double>(m) / supers), [&](std::int64_t s0, std::int64_t s1) {
      std::vector<const float*> xp(taps);
      std::vector<float*> dwp(taps);
      for (std::int64_t sc = s0; sc < s1; ++sc) {
        float* pdw = partial_dw + sc * taps * cout;
        float* pdb = partial_db + sc * cout;
        for (std::int64_t pix = m * sc / supers; pix < m * (sc + 1) / supers; ++pix) {
          const std::int64_t b = pix / (s.out_h * s.out_w), rem = pix % (s.out_h * s.out_w);
          const std::int64_t oh = rem / s.out_w, ow = rem % s.out_w;
          std::int64_t n = 0;
          for (std::int64_t t = 0; t < taps; ++t) {
            const std::int64_t ih = oh * s.stride_h - s.pad_top + (t / s.kernel_w) * s.dilation_h;
            const std::int64_t iw = ow * s.stride_w - s.pad_left + (t % s.kernel_w) * s.dilation_w;
            if (ih < 0 || ih >= s.in_h || iw < 0 || iw >= s.in_w) continue;
            xp[n] = x + ((b * s.in_h + ih) * s.in_w + iw) * s.in_c;
            dwp[n++] = pdw + t * cout;
          }
          k.weight_grad_pixel(n, xp.data(), dwp.data(), dz + pix * cout, pdb, s.in_c, dm);
        }
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
  const std::int64_t rows = s.batch * s.in_h;
  parallel_for(rows, 0.25 * s.in_w * taps * cout, [&](std::int64_t r0, std::int64_t r1) {
    std::vector<const float*> dzp(taps), wp(taps);
    for (std::int64_t row = r0; row < r1; ++row) {
      const std::int64_t b = row / s.in_h, ih = row % s.in_h;
      for (std::int64_t iw = 0; iw < s.in_w; ++iw) {
        std::int64_t n = 0;
        for (std::int64_t t = 0; t < taps; ++t) {
          const std::int64_t nh = ih + s.pad_top - (t / s.kernel_w) * s.dilation_h;
          const std::int64_t nw = iw + s.pad_left - (t % s.kernel_w) * s.dilation_w;
          if (nh < 0 || nw < 0 || nh % s.stride_h || nw % s.stride_w) continue;
          const std::int64_t oh = nh / s.stride_h, ow = nw / s.stride_w;
          if (oh >= s.out_h || ow >= s.out_w) continue;
          dzp[n] = dz + ((b * s.out_h + oh) * s.out_w + ow) * cout;
          wp[n++] = w + t * cout;
        }
        k.input_grad_pixel(n, dzp.data(), wp.data(), dx + ((b * s.in_h + ih) * s.in_w + iw) * s.in_c, s.in_c, dm);
      }
    }
  });
}

}  // namespace convlite

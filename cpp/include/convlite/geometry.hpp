// Padding and output-size arithmetic for convolution and pooling windows, Keras/TF conventions:
//   valid:  no padding;               out = floor((n - k_eff) / s) + 1
//   same:   out = ceil(n / s); pad_total = max((out - 1) * s + k_eff - n, 0); the extra pad goes at the end
//   causal: k_eff - 1 before, 0 after (then valid)   -- Keras: Conv1D only; convlite: any 1-D window
//   full:   k_eff - 1 on both sides                    -- convlite extension
//   explicit per-side integers                         -- convlite extension
// where k_eff = dilation * (kernel - 1) + 1. A result <= 0 means the window does not fit: callers raise.
#pragma once
#include <cstdint>

namespace convlite::geometry {

enum class PaddingMode : int { valid = 0, same = 1, causal = 2, full = 3 };

struct Pads {
  std::int64_t before = 0, after = 0;
};

inline std::int64_t effective_kernel(std::int64_t kernel, std::int64_t dilation) {
  return dilation * (kernel - 1) + 1;
}

inline Pads resolve_padding(std::int64_t n, std::int64_t kernel, std::int64_t stride, std::int64_t dilation,
                            PaddingMode mode) {
  const std::int64_t k_eff = effective_kernel(kernel, dilation);
  Pads p;
  switch (mode) {
    case PaddingMode::valid: break;
    case PaddingMode::same: {
      const std::int64_t out = (n + stride - 1) / stride;
      std::int64_t total = (out - 1) * stride + k_eff - n;
      if (total < 0) total = 0;
      p.before = total / 2;
      p.after = total - p.before;
      break;
    }
    case PaddingMode::causal: p.before = k_eff - 1; break;
    case PaddingMode::full: p.before = p.after = k_eff - 1; break;
  }
  return p;
}

// Output length for explicit pads; <= 0 when the (padded) input is shorter than the effective kernel.
inline std::int64_t output_size(std::int64_t n, std::int64_t kernel, std::int64_t stride, std::int64_t dilation,
                                std::int64_t pad_before, std::int64_t pad_after) {
  const std::int64_t span = n + pad_before + pad_after - effective_kernel(kernel, dilation);
  return span < 0 ? 0 : span / stride + 1;
}

}  // namespace convlite::geometry

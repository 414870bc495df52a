// Shape ops (zero padding, nearest upsampling) and their backward: pure data movement, one pass, rows split
// across threads. Sums in the upsampling backward run in a fixed order (block row, then column).
#include <cstring>

#include "convlite/parallel.hpp"
#include "convlite/pool.hpp"

namespace convlite {

void zero_pad2d_forward(std::int64_t batch, std::int64_t in_h, std::int64_t in_w, std::int64_t channels,
                        std::int64_t top, std::int64_t bottom, std::int64_t left, std::int64_t right,
                        const float* x, float* y) {
  const std::int64_t out_h = in_h + top + bottom, out_w = in_w + left + right;
  const std::int64_t row = out_w * channels;
  parallel_for(batch * out_h, static_cast<double>(row), [&](std::int64_t r0, std::int64_t r1) {
    for (std::int64_t r = r0; r < r1; ++r) {
      const std::int64_t b = r / out_h, h = r % out_h - top;
      float* dst = y + r * row;
      if (h < 0 || h >= in_h) {
        std::memset(dst, 0, static_cast<size_t>(row) * sizeof(float));
        continue;
      }
      std::memset(dst, 0, static_cast<size_t>(left * channels) * sizeof(float));
      std::memcpy(dst + left * channels, x + (b * in_h + h) * in_w * channels,
                  static_cast<size_t>(in_w * channels) * sizeof(float));
      std::memset(dst + (left + in_w) * channels, 0, static_cast<size_t>(right * channels) * sizeof(float));
    }
  });
}

void zero_pad2d_backward(std::int64_t batch, std::int64_t in_h, std::int64_t in_w, std::int64_t channels,
                         std::int64_t top, std::int64_t bottom, std::int64_t left, std::int64_t right,
                         const float* dy, float* dx) {
  const std::int64_t out_h = in_h + top + bottom, out_w = in_w + left + right;
  const std::int64_t row = in_w * channels;
  parallel_for(batch * in_h, static_cast<double>(row), [&](std::int64_t r0, std::int64_t r1) {
    for (std::int64_t r = r0; r < r1; ++r) {
      const std::int64_t b = r / in_h, h = r % in_h;
      std::memcpy(dx + r * row, dy + ((b * out_h + h + top) * out_w + left) * channels,
                  static_cast<size_t>(row) * sizeof(float));
    }
  });
}

void upsample2d_forward(std::int64_t batch, std::int64_t in_h, std::int64_t in_w, std::int64_t channels,
                        std::int64_t size_h, std::int64_t size_w, const float* x, float* y) {
  const std::int64_t out_row = in_w * size_w * channels;
  const size_t pixel_bytes = static_cast<size_t>(channels) * sizeof(float);
  parallel_for(batch * in_h, static_cast<double>(out_row * size_h), [&](std::int64_t r0, std::int64_t r1) {
    for (std::int64_t r = r0; r < r1; ++r) {  // r = b * in_h + h; its output rows are r*size_h .. + size_h
      float* first = y + r * size_h * out_row;
      const float* src = x + r * in_w * channels;
      for (std::int64_t w = 0; w < in_w; ++w)
        for (std::int64_t j = 0; j < size_w; ++j) std::memcpy(first + (w * size_w + j) * channels, src + w * channels, pixel_bytes);
      for (std::int64_t i = 1; i < size_h; ++i)
        std::memcpy(first + i * out_row, first, static_cast<size_t>(out_row) * sizeof(float));
    }
  });
}

void upsample2d_backward(std::int64_t batch, std::int64_t in_h, std::int64_t in_w, std::int64_t channels,
                         std::int64_t size_h, std::int64_t size_w, const float* dy, float* dx) {
  const std::int64_t out_row = in_w * size_w * channels;
  parallel_for(batch * in_h, static_cast<double>(out_row * size_h), [&](std::int64_t r0, std::int64_t r1) {
    for (std::int64_t r = r0; r < r1; ++r) {
      const float* block = dy + r * size_h * out_row;
      float* d = dx + r * in_w * channels;
      for (std::int64_t w = 0; w < in_w; ++w) {
        float* dp = d + w * channels;
        for (std::int64_t c = 0; c < channels; ++c) dp[c] = 0.0f;
        for (std::int64_t i = 0; i < size_h; ++i)
          for (std::int64_t j = 0; j < size_w; ++j) {
            const float* g = block + i * out_row + (w * size_w + j) * channels;
            for (std::int64_t c = 0; c < channels; ++c) dp[c] += g[c];
          }
      }
    }
  });
}

}  // namespace convlite

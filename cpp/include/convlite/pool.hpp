// Pooling and shape ops, channels_last. 1D ops use the 2D entry points with in_h = out_h = pool_h = 1.
#pragma once
#include <cstdint>

namespace convlite {

struct Pool2dShape {
  std::int64_t batch = 1;
  std::int64_t in_h = 1, in_w = 1, channels = 1;
  std::int64_t out_h = 1, out_w = 1;
  std::int64_t pool_h = 1, pool_w = 1;
  std::int64_t stride_h = 1, stride_w = 1;
  std::int64_t pad_top = 0, pad_bottom = 0, pad_left = 0, pad_right = 0;
};

// Max ignores padded cells. argmax (batch*out_h*out_w*channels int32: the flat input pixel index h*in_w + w of
// the winner) may be null at inference; training passes it to the backward.
void max_pool2d_forward(const Pool2dShape& s, const float* x, float* y, std::int32_t* argmax);
// dx is overwritten (zeroed, then scattered).
void max_pool2d_backward(const Pool2dShape& s, const std::int32_t* argmax, const float* dy, float* dx);
// Training's compact argmax for the common 2x2 / stride 2 case (every window inside the input, no padding
// reached): one byte per output, the winner's place in its window (0..3 row-major), chosen as the int32 argmax
// is. Only for shapes where max_pool2d_window_code_applies(s); code has batch*out_h*out_w*channels bytes.
bool max_pool2d_window_code_applies(const Pool2dShape& s);
void max_pool2d_forward_code(const Pool2dShape& s, const float* x, float* y, std::uint8_t* code);
// dx is overwritten (cells no window covers are zeroed). relu_y (the pooled output y, or null): the gradient of a
// preceding relu folded in, dy counting only where y > 0 (ModelLayer::fold_input_relu_mask).
void max_pool2d_backward_code(const Pool2dShape& s, const std::uint8_t* code, const float* dy, float* dx,
                              const float* relu_y = nullptr);
// Average leaves padded cells out of the divisor (TensorFlow's semantics).
void avg_pool2d_forward(const Pool2dShape& s, const float* x, float* y);
void avg_pool2d_backward(const Pool2dShape& s, const float* dy, float* dx);

// Global pooling over `spatial` positions: x (batch, spatial, channels) -> y (batch, channels).
void global_avg_pool_forward(std::int64_t batch, std::int64_t spatial, std::int64_t channels, const float* x,
                             float* y);
void global_avg_pool_backward(std::int64_t batch, std::int64_t spatial, std::int64_t channels, const float* dy,
                              float* dx);
// argmax: (batch, channels) spatial index of the winner, or null.
void global_max_pool_forward(std::int64_t batch, std::int64_t spatial, std::int64_t channels, const float* x,
                             float* y, std::int32_t* argmax);
void global_max_pool_backward(std::int64_t batch, std::int64_t spatial, std::int64_t channels,
                              const std::int32_t* argmax, const float* dy, float* dx);

// Zero padding: x (batch, in_h, in_w, c) -> y (batch, in_h+top+bottom, in_w+left+right, c); backward crops.
void zero_pad2d_forward(std::int64_t batch, std::int64_t in_h, std::int64_t in_w, std::int64_t channels,
                        std::int64_t top, std::int64_t bottom, std::int64_t left, std::int64_t right,
                        const float* x, float* y);
void zero_pad2d_backward(std::int64_t batch, std::int64_t in_h, std::int64_t in_w, std::int64_t channels,
                         std::int64_t top, std::int64_t bottom, std::int64_t left, std::int64_t right,
                         const float* dy, float* dx);
// Nearest upsampling by (size_h, size_w); backward sums each block.
void upsample2d_forward(std::int64_t batch, std::int64_t in_h, std::int64_t in_w, std::int64_t channels,
                        std::int64_t size_h, std::int64_t size_w, const float* x, float* y);
void upsample2d_backward(std::int64_t batch, std::int64_t in_h, std::int64_t in_w, std::int64_t channels,
                         std::int64_t size_h, std::int64_t size_w, const float* dy, float* dx);

}  // namespace convlite

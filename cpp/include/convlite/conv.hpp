// Convolution family: conv1d/conv2d (groups, strides, dilation, any padding), depthwise, dense, and the packed
// SGEMM they share. float32, channels_last; kernels in Keras layout. 1D ops use the 2D entry points with
// in_h = out_h = kernel_h = 1 (stride_h = dilation_h = 1, no vertical padding).
#pragma once
#include <cstdint>

namespace convlite {

// Output-side fusions. The relu-family masks are computed from the forward *output* y, which is exact for
// relu (y > 0) and leaky_relu with slope > 0 (y > 0); other activations run as separate ops.
enum class FusedActivation : int { none = 0, relu = 1, leaky_relu = 2 };
struct Epilogue {
  FusedActivation activation = FusedActivation::none;
  float negative_slope = 0.0f;  // leaky_relu only
};

// Geometry of one conv2d call. Padding is explicit per side (the Python layer resolves valid/same/causal/full).
struct Conv2dShape {
  std::int64_t batch = 1;
  std::int64_t in_h = 1, in_w = 1, in_c = 1;
  std::int64_t out_h = 1, out_w = 1, out_c = 1;  // out_c = filters
  std::int64_t kernel_h = 1, kernel_w = 1;
  std::int64_t stride_h = 1, stride_w = 1;
  std::int64_t dilation_h = 1, dilation_w = 1;
  std::int64_t pad_top = 0, pad_bottom = 0, pad_left = 0, pad_right = 0;
  std::int64_t groups = 1;
};

// x: (batch, in_h, in_w, in_c); w: (kernel_h, kernel_w, in_c/groups, out_c); bias: (out_c,) or null;
// y: (batch, out_h, out_w, out_c) = epilogue(conv(x, w) + bias).
void conv2d_forward(const Conv2dShape& s, const float* x, const float* w, const float* bias, float* y,
                    const Epilogue& epilogue = {});

// True when conv2d_forward and conv2d_backward run the direct small-channel kernels for this shape (few input
// channels, at most 32 filters, no Winograd): nothing is prepared per call beyond the weights' few hundred floats,
// so a caller may run it a few images at a time.
bool conv2d_is_direct(const Conv2dShape& s);

// Backward of conv2d_forward. dy is dL/dy; when the epilogue has an activation, y is the forward output and the
// activation's gradient mask is applied on the fly (dy itself is not modified). Any of dx, dw, db may be null
// (the first layer needs no dx; use_bias=False has no db). Outputs are overwritten, not accumulated.
// dw and db are reduced in a fixed order: bit-identical for any thread count.
void conv2d_backward(const Conv2dShape& s, const float* x, const float* w, const float* y, const float* dy,
                     float* dx, float* dw, float* db, const Epilogue& epilogue = {});

// Depthwise: w: (kernel_h, kernel_w, channels, depth_multiplier); output channel c*dm + m uses w[..., c, m];
// bias: (channels*dm,) or null. In Conv2dShape terms: in_c = channels, out_c = channels*dm, groups = channels.
void depthwise2d_forward(const Conv2dShape& s, const float* x, const float* w, const float* bias, float* y,
                         const Epilogue& epilogue = {});
void depthwise2d_backward(const Conv2dShape& s, const float* x, const float* w, const float* y, const float* dy,
                          float* dx, float* dw, float* db, const Epilogue& epilogue = {});

// Separable (Keras SeparableConv): depthwise (kernel_h, kernel_w, in_c, dm) with no bias, then pointwise
// (in_c*dm, out_c) + bias + epilogue. s describes the depthwise window on x with out_c = filters (groups is
// ignored). Fused per tile of output pixels: the depthwise result of a tile stays in a per-thread buffer (cache)
// and the GEMM microkernel turns it into output rows at once, so the intermediate (batch, out_h, out_w, in_c*dm)
// never goes to memory as a whole tensor. When `mid` is given (training), each tile is written there instead,
// so the backward pass finds the pointwise input without a second depthwise pass.
void separable_conv2d_forward(const Conv2dShape& s, std::int64_t depth_multiplier, const float* x,
                              const float* depthwise_w, const float* pointwise_w, const float* bias, float* y,
                              const Epilogue& epilogue = {}, float* mid = nullptr);
// Backward: pointwise (mask, db, d_pointwise, d_mid) as a 1x1 conv2d_backward, then depthwise2d_backward for dx
// and d_depthwise. mid is the forward's intermediate, or null to recompute it. Any of dx, d_depthwise,
// d_pointwise, db may be null. Bit-identical for any thread count (both halves are).
void separable_conv2d_backward(const Conv2dShape& s, std::int64_t depth_multiplier, const float* x,
                               const float* depthwise_w, const float* pointwise_w, const float* mid, const float* y,
                               const float* dy, float* dx, float* d_depthwise, float* d_pointwise, float* db,
                               const Epilogue& epilogue = {});

// Dense: x (batch, in), w (in, units), bias (units,) or null, y (batch, units).
void dense_forward(std::int64_t batch, std::int64_t in, std::int64_t units, const float* x, const float* w,
                   const float* bias, float* y, const Epilogue& epilogue = {});
void dense_backward(std::int64_t batch, std::int64_t in, std::int64_t units, const float* x, const float* w,
                    const float* y, const float* dy, float* dx, float* dw, float* db, const Epilogue& epilogue = {});

// C (m x n, row stride ldc) = op(A) (m x k) * op(B) (k x n) + beta * C, row-major; op transposes when asked.
void sgemm(bool transpose_a, bool transpose_b, std::int64_t m, std::int64_t n, std::int64_t k, const float* a,
           std::int64_t lda, const float* b, std::int64_t ldb, float beta, float* c, std::int64_t ldc);

}  // namespace convlite

// Argument checks of the convolution bindings (defined in bind_conv.cpp), shared with bind_separable.cpp so that
// every conv-family op validates windows, kernels and activations with the same rules and messages.
#pragma once
#include <cstdint>
#include <string>
#include <tuple>

#include "array_check.hpp"
#include "convlite/conv.hpp"

namespace convlite::bindings {

using ConvPair = std::tuple<std::int64_t, std::int64_t>;
using ConvQuad = std::tuple<std::int64_t, std::int64_t, std::int64_t, std::int64_t>;

// activation: 'linear'/'none', 'relu', 'leaky_relu'; ValueError otherwise or for a negative/non-finite slope.
Epilogue conv_epilogue_arg(const std::string& activation, float negative_slope);
// The depthwise geometry of x (N, H, W, C) under w (kh, kw, C, dm), fully validated (out_c = C * dm).
Conv2dShape conv_depthwise_shape_arg(const FloatArray& x, const FloatArray& w, const ConvPair& strides,
                                     const ConvPair& dilations, const ConvQuad& padding);
// A 1-D float32 array of n values.
FloatArray conv_bias_arg(py::handle obj, std::int64_t n, const char* name);

}  // namespace convlite::bindings

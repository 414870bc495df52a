// Direct small-convolution path (conv_small.cpp): used by conv2d_forward/backward when eligible(s).
#pragma once
#include "convlite/conv.hpp"

namespace convlite::small_conv {

// groups 1, dilation 1, K = kh * kw * C_in <= 64, F <= 32, non-empty output, receptive fields inside the padding.
bool eligible(const Conv2dShape& s);
void forward(const Conv2dShape& s, const float* x, const float* w, const float* bias, float* y,
             const Epilogue& epilogue);
void backward(const Conv2dShape& s, const float* x, const float* w, const float* y, const float* dy, float* dx,
              float* dw, float* db, const Epilogue& epilogue);

}  // namespace convlite::small_conv

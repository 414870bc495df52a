// Direct small-convolution path (conv_small.cpp): used by conv2d_forward/backward when eligible(s).
#pragma once
#include "convlite/conv.hpp"

namespace convlite::small_conv {

// groups 1, dilation 1, K = kh * kw * C_in <= 256 with kernel rows kw * C_in <= 64, F <= 32, non-empty output,
// receptive fields inside the padding.
bool eligible(const Conv2dShape& s);
void forward(const Conv2dShape& s, const float* x, const float* w, const float* bias, float* y,
             const Epilogue& epilogue);
void backward(const Conv2dShape& s, const float* x, const float* w, const float* y, const float* dy, float* dx,
              float* dw, float* db, const Epilogue& epilogue);
// The input gradient alone, from dz (dy with the activation mask applied), for layers whose kernel rows are short
// (kw * C_in <= 64) and F <= 32 whatever kh: LeNet conv2's 5 x 5 x 6 -> 16 (K = 150) among them.
bool input_grad_eligible(const Conv2dShape& s);
void input_grad(const Conv2dShape& s, const float* w, const float* dz, float* dx);

}  // namespace convlite::small_conv

// Winograd F(2x2, 3x3) convolution (conv_winograd.cpp): conv2d's forward and, at stride 1, its input gradient
// when the kernel is 3x3, stride 1, dilation 1, groups 1 and the channel counts make it measure faster than the
// implicit GEMM. 2.25x fewer multiplies; the transforms are additions and halvings, so errors stay within a few
// ulps of the GEMM path's.
#pragma once
#include <string>

#include "convlite/conv.hpp"
#include "kernels/winograd_kernels.hpp"

namespace convlite::winograd {

// auto: Winograd where it measured faster; gemm: never (the opt-out); winograd: wherever the shape allows it,
// even where slower (tests and benchmarks). Chosen once from CONVLITE_CONV_ALGO at import, then by the setter.
enum class Algorithm : int { automatic = 0, gemm = 1, winograd = 2 };
const char* algorithm_name(Algorithm a);
// Throws std::invalid_argument naming the value for anything but auto|gemm|winograd.
Algorithm parse_algorithm(const std::string& name);
Algorithm algorithm();
void set_algorithm(Algorithm a);
void init_algorithm_from_environment();

bool forward_eligible(const Conv2dShape& s);
void forward(const Conv2dShape& s, const float* x, const float* w, const float* bias, float* y,
             const Epilogue& epilogue);
// dx of conv2d_forward from dz (dL/dy with the activation mask already applied): a 3x3 stride-1 convolution of
// dz with the flipped, channel-transposed kernel and 2 - pad of padding per side. Overwrites dx.
bool input_grad_eligible(const Conv2dShape& s);
void input_grad(const Conv2dShape& s, const float* dz, const float* w, float* dx);

// Weight (and bias) gradient from x and dz (dL/dy with the activation mask already applied): dW = G^T dU G with
// dU[e] = sum over output tiles of V[e]^T dM[e] (conv_winograd_grad.cpp). Chosen as the forward is.
bool weight_grad_eligible(const Conv2dShape& s);
void weight_grad(const Conv2dShape& s, const float* x, const float* dz, float* dw, float* db);
// Tests: force the weight gradient's output tile (2 or 4; 0 restores the choice by shape).
void force_weight_grad_tile(int m);

// The input-transform table of the active ISA (shared with the weight gradient).
const WinogradKernels& transform_kernels();

}  // namespace convlite::winograd

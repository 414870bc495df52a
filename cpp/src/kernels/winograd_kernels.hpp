// Winograd F(2x2, 3x3) and F(4x4, 3x3) transforms for a 3x3, stride-1 convolution (ops/conv_winograd.cpp drives
// them; the 16 or 36 products in between are GEMMs on the gemm family's microkernel). Vectorised over channels:
// one call transforms one tile for every channel. F(4x4)'s matrices and accuracy: winograd4_math.inc.
//   input:  V = B^T d B for a 4x4 input patch d,  B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1]
//   output: Y = A^T M A for the 4x4 products M,   A^T = [1 1 1 0; 0 1 -1 -1]
// Both are additions only, in one fixed order (rows first, i.e. d B, then B^T (d B); likewise A^T (M A)
// after M A), so every ISA gives the same bits: ISAs differ only in the GEMM between.
#pragma once
#include <cstdint>

namespace convlite {

struct WinogradKernels {
  // d[i*4 + j] points at the `channels` floats of input pixel (i, j) of the patch (a zero row for padding).
  // Writes element e = i*4 + j of the transformed patch, channel k, to v[e * v_stride + k]; may also write
  // zeros to k in [channels, channels rounded up to 16) (the caller pads v's rows to 16 floats).
  void (*input_tile)(const float* const* d, std::int64_t channels, float* v, std::int64_t v_stride);
  // m[e * m_stride + f] is product element e for channel f (f < n). y[a*2 + b] is output pixel (a, b) of the
  // 2x2 tile (n floats written) or null when the pixel lies outside the output. Writes
  // act(A^T M A + bias[f]); bias may be null. Activation as the GEMM epilogue (relu and leaky keep NaN).
  // An infinite input becomes NaN in the outputs it reaches (the transforms form Inf - Inf), where the GEMM path
  // gives +-Inf; finite inputs near FLT_MAX can overflow inside the transforms. README says so.
  void (*output_tile)(const float* m, std::int64_t m_stride, std::int64_t n, const float* bias, float* const* y,
                      int activation, float negative_slope);
  // F(4x4, 3x3): the same contracts with a 6x6 patch (d[i*6 + j], 36 elements e = i*6 + j of v) and a 4x4
  // output tile (y[a*4 + b]). Additionally m's rows and bias must be readable up to n rounded up to the vector
  // width (the GEMM's nr-wide panels and the nr-padded bias are).
  // Transforms use fma (the same ones on every ISA, so they stay bit-identical).
  void (*input_tile4)(const float* const* d, std::int64_t channels, float* v, std::int64_t v_stride);
  void (*output_tile4)(const float* m, std::int64_t m_stride, std::int64_t n, const float* bias, float* const* y,
                       int activation, float negative_slope);
};

const WinogradKernels& winograd_kernels_scalar();
#if defined(CONVLITE_HAVE_AVX2)
const WinogradKernels& winograd_kernels_avx2();
#endif
#if defined(CONVLITE_HAVE_AVX512)
const WinogradKernels& winograd_kernels_avx512();
#endif

}  // namespace convlite

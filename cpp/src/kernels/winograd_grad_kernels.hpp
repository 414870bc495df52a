// Winograd F(2x2, 3x3) and F(4x4, 3x3) weight gradient kernels (ops/conv_winograd_grad.cpp drives them), the
// transposes of the forward's steps: with V = B^T d B the forward's transformed input tile and dM = A dY A^T the
// transformed gradient tile (F(2x2): A^T = [1 1 1 0; 0 1 -1 -1]), dU[e] (C x F) = sum over tiles of
// V[e]^T dM[e], and dW = G^T dU G.
#pragma once
#include <cstdint>

namespace convlite {

struct WinogradGradKernels {
  // dz[a*2 + b] points at the n floats of gradient pixel (a, b) of the 2x2 tile, or is null outside the output.
  // Writes element e = i*4 + j of dM, channel f, to dm[e * dm_stride + f] for f < n and zeros for n <= f <
  // n_padded. Rows first (dY A^T), then columns, additions in one fixed order: bit-identical across ISAs.
  void (*grad_tile)(const float* const* dz, std::int64_t n, std::int64_t n_padded, float* dm,
                    std::int64_t dm_stride);
  // u[c * ldu + f] += sum over t < tiles, in order, of v[t * ldv + c] * dm[t * ldm + f] for c < c_count,
  // f < f_count; the sum is formed from zero and then added to u. dm's rows are readable (finite) up to f_count
  // rounded up to 16.
  void (*reduce)(const float* v, std::int64_t ldv, const float* dm, std::int64_t ldm, std::int64_t tiles,
                 std::int64_t c_count, std::int64_t f_count, float* u, std::int64_t ldu);
  // F(4x4, 3x3) (winograd_grad4_*.cpp): dM = A dY A^T for a 4x4 gradient tile (dz[a*4 + b] as grad_tile's),
  // element e = i*6 + j of the 6x6 result to dm[e * dm_stride + f], zeros for n <= f < n_padded. A^T is the
  // forward's (kernels/winograd4_math.inc: points 0, 1, -1, 1/2, -2, infinity), [1 1 1 1 1 0; 0 1 -1 1/2 -2 0;
  // 0 1 1 1/4 4 0; 0 1 -1 1/8 -8 1]; V comes from the forward's input_tile4. Rows first, then columns, one fixed
  // operation order (explicit fma): bit-identical across ISAs.
  void (*grad_tile6)(const float* const* dz, std::int64_t n, std::int64_t n_padded, float* dm,
                     std::int64_t dm_stride);
  // The transposed input transform of F(4x4) (the input gradient over dy's tiles, ops/conv_winograd_dx.cpp):
  // P = B dV B^T, the adjoint of the forward's V = B^T d B, for element e = i*6 + j of dV, channel c, at
  // dv[e * dv_stride + c] (rows readable up to n rounded up to 8). P(a, b), channel c, goes to dx[a*6 + b][c]
  // (n floats): added when bit a*6 + b of `accumulate` is set (an earlier tile wrote there), stored otherwise;
  // null pointers (outside dx) are skipped. Columns first, then rows, one fixed operation order (explicit fma):
  // bit-identical across ISAs.
  void (*dx_tile6)(const float* dv, std::int64_t dv_stride, std::int64_t n, float* const* dx,
                   std::uint64_t accumulate);
};

const WinogradGradKernels& winograd_grad_kernels_scalar();
// The F(4x4) gradient transform of each table (winograd_grad4_scalar.cpp, winograd_grad4_avx2.cpp).
void winograd_grad_tile6_scalar(const float* const* dz, std::int64_t n, std::int64_t n_padded, float* dm,
                                std::int64_t dm_stride);
void winograd_dx_tile6_scalar(const float* dv, std::int64_t dv_stride, std::int64_t n, float* const* dx,
                              std::uint64_t accumulate);
#if defined(CONVLITE_HAVE_AVX2)
const WinogradGradKernels& winograd_grad_kernels_avx2();  // AVX-512 machines use it too
void winograd_grad_tile6_avx2(const float* const* dz, std::int64_t n, std::int64_t n_padded, float* dm,
                              std::int64_t dm_stride);
void winograd_dx_tile6_avx2(const float* dv, std::int64_t dv_stride, std::int64_t n, float* const* dx,
                            std::uint64_t accumulate);
#endif

}  // namespace convlite

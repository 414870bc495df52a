// Winograd F(2x2, 3x3) weight gradient over NHWC, the transpose of the forward (conv_winograd.cpp): for output
// tile t, V_t = B^T d_t B (the forward's input transform of the 4x4 patch) and dM_t = A dY_t A^T (the 2x2 gradient
// tile spread to 4x4); dU[e] (C_in x F) = sum_t V_t[e]^T dM_t[e] for the 16 elements e; dW = G^T dU G. That is
// 16 x 2 x tiles x C_in x F FLOPs against 9 x 4 x tiles x C_in x F for the direct reduction (MNIST conv2,
// 32 -> 64 channels on 11x11: 151 against 285 MFLOP before the 2x2 tiles' edge waste).
// Tiles go in blocks (V and dM of a block for all 16 elements stay in L2), blocks in a fixed number of
// super-chunks (a function of the shape) with their own partial dU, summed in order at the end: the result does
// not depend on the thread count. The bias gradient comes free: dM[1][1] of a tile is the sum of its 4 pixels.
#include <algorithm>
#include <vector>

#include "convlite/dispatch.hpp"
#include "gemm/gemm_driver.hpp"
#include "kernels/winograd_grad_kernels.hpp"
#include "ops/conv_winograd.hpp"

namespace convlite::winograd {
namespace {

const WinogradGradKernels& grad_kernels() {
#if defined(CONVLITE_HAVE_AVX2)
  if (active_isa() == Isa::avx2 || active_isa() == Isa::avx512) return winograd_grad_kernels_avx2();
#endif
  return winograd_grad_kernels_scalar();
}

std::int64_t round16(std::int64_t n) { return (n + 15) / 16 * 16; }

// FLOPs weigh 1/8 in parallel_for (streaming kernels over L2-resident blocks).
constexpr double kGradFlopCost = 1.0 / 8.0;
constexpr std::int64_t kMaxSupers = 8;

}  // namespace

void weight_grad(const Conv2dShape& s, const float* x, const float* dz, float* dw, float* db) {
  const WinogradKernels& tk = transform_kernels();
  const WinogradGradKernels& gk = grad_kernels();
  const std::int64_t c = s.in_c, f = s.out_c, ldv = round16(c), ldd = round16(f);
  const std::int64_t tiles_h = (s.out_h + 1) / 2, tiles_w = (s.out_w + 1) / 2, per_image = tiles_h * tiles_w;
  const std::int64_t tiles = s.batch * per_image;
  // Tiles per block: the block's V and dM for all 16 elements in about 384 KB (64 tiles for 32 -> 64 channels).
  const std::int64_t tb = std::clamp<std::int64_t>(98304 / (16 * (ldv + ldd)), 8, 256);
  const std::int64_t blocks = (tiles + tb - 1) / tb;
  const std::int64_t supers = std::min(blocks, kMaxSupers);
  // Element strides one cache line past a multiple of the page (as the forward's: 16 streams at a 4 KB
  // multiple would share one L1 set).
  const std::int64_t v_es = tb * ldv + 16, d_es = tb * ldd + 16;
  const std::int64_t u_size = 16 * c * ldd, part_stride = u_size + ldd;
  float* partial = gemm::workspace(gemm::Slot::partial, supers * part_stride);
  gemm::Buffer zeros(ldv);
  const float* zero_row = zeros.data();
  const double flops = 2.0 * 16.0 * static_cast<double>(tiles) * c * f;
  parallel_for(supers, kGradFlopCost * flops / supers, [&](std::int64_t s0, std::int64_t s1) {
    float* v = gemm::workspace(gemm::Slot::reduce_a, 16 * v_es);
    float* dm = gemm::workspace(gemm::Slot::reduce_b, 16 * d_es);
    const float* patch[16];
    const float* grad[4];
    for (std::int64_t sc = s0; sc < s1; ++sc) {
      float* u = partial + sc * part_stride;
      float* ub = u + u_size;
      std::fill(u, u + part_stride, 0.0f);
      for (std::int64_t block = blocks * sc / supers; block < blocks * (sc + 1) / supers; ++block) {
        const std::int64_t t0 = block * tb, nt = std::min(tb, tiles - t0);
        for (std::int64_t i = 0; i < nt; ++i) {
          const std::int64_t tile = t0 + i, b = tile / per_image, rem = tile % per_image;
          const std::int64_t oy = (rem / tiles_w) * 2, ox = (rem % tiles_w) * 2;
          const std::int64_t iy = oy - s.pad_top, ix = ox - s.pad_left;
          for (int r = 0; r < 4; ++r) {
            const std::int64_t yy = iy + r;
            const bool row_in = yy >= 0 && yy < s.in_h;
            const float* row = x + (b * s.in_h + (row_in ? yy : 0)) * s.in_w * c;
            for (int q = 0; q < 4; ++q) {
              const std::int64_t xx = ix + q;
              patch[r * 4 + q] = (row_in && xx >= 0 && xx < s.in_w) ? row + xx * c : zero_row;
            }
          }
          tk.input_tile(patch, c, v + i * ldv, v_es);
          for (int a = 0; a < 2; ++a)
            for (int q = 0; q < 2; ++q)
              grad[a * 2 + q] = (oy + a < s.out_h && ox + q < s.out_w)
                                    ? dz + ((b * s.out_h + oy + a) * s.out_w + ox + q) * f
                                    : nullptr;
          gk.grad_tile(grad, f, ldd, dm + i * ldd, d_es);
        }
        if (dw)
          for (int e = 0; e < 16; ++e) gk.reduce(v + e * v_es, ldv, dm + e * d_es, ldd, nt, c, f, u + e * c * ldd, ldd);
        if (db) {  // element (1, 1) of dM is the sum of the tile's 4 gradient pixels
          const float* d5 = dm + 5 * d_es;
          for (std::int64_t i = 0; i < nt; ++i)
            for (std::int64_t j = 0; j < f; ++j) ub[j] += d5[i * ldd + j];
        }
      }
    }
  });
  // Partials summed in order, in double, then dW[i][j] = sum_ab G[a][i] dU[a*4 + b] G[b][j] with
  // G = [1 0 0; 1/2 1/2 1/2; 1/2 -1/2 1/2; 0 0 1], rounded once.
  static constexpr double kG[4][3] = {{1.0, 0.0, 0.0}, {0.5, 0.5, 0.5}, {0.5, -0.5, 0.5}, {0.0, 0.0, 1.0}};
  if (dw) {
    std::vector<double> du(16 * f);
    for (std::int64_t ci = 0; ci < c; ++ci) {
      std::fill(du.begin(), du.end(), 0.0);
      for (std::int64_t sc = 0; sc < supers; ++sc)
        for (int e = 0; e < 16; ++e) {
          const float* src = partial + sc * part_stride + (e * c + ci) * ldd;
          for (std::int64_t j = 0; j < f; ++j) du[e * f + j] += src[j];
        }
      for (int i = 0; i < 3; ++i)
        for (int j = 0; j < 3; ++j) {
          float* out = dw + ((i * 3 + j) * c + ci) * f;
          for (std::int64_t fj = 0; fj < f; ++fj) {
            double sum = 0.0;
            for (int a = 0; a < 4; ++a)
              for (int b = 0; b < 4; ++b) sum += kG[a][i] * kG[b][j] * du[(a * 4 + b) * f + fj];
            out[fj] = static_cast<float>(sum);
          }
        }
    }
  }
  if (db)
    for (std::int64_t j = 0; j < f; ++j) {
      double sum = 0.0;
      for (std::int64_t sc = 0; sc < supers; ++sc) sum += partial[sc * part_stride + u_size + j];
      db[j] = static_cast<float>(sum);
    }
}

}  // namespace convlite::winograd

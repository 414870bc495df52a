// Winograd weight gradient over NHWC, the transpose of the forward (conv_winograd.cpp), with output tiles of m = 2
// (F(2x2, 3x3), 4x4 input patches) or m = 4 (F(4x4, 3x3), 6x6 patches), alpha = m + 2: for output tile t,
// V_t = B^T d_t B (the input transform of the patch) and dM_t = A dY_t A^T (the m x m gradient tile spread to
// alpha x alpha); dU[e] (C_in x F) = sum_t V_t[e]^T dM_t[e] for the alpha^2 elements e; dW = G^T dU G. That is
// alpha^2 x 2 x tiles x C_in x F FLOPs against 9 x 2 x m^2 x tiles x C_in x F for the direct reduction (MNIST
// conv2, 32 -> 64 channels on 11x11: 151 MFLOP by F(2x2), 85 by F(4x4), 285 direct).
// Tiles go in blocks (V and dM of a block for all elements), blocks in a fixed number of super-chunks (a function
// of the shape; whole images when there are enough) with their own partial dU, summed in order at the end: the
// result does not depend on the thread count. The bias gradient comes free: dM[1][1] of a tile is the sum of its
// gradient pixels. With tiles of 4 the same dM also feeds the input gradient over dy's tiles (conv_winograd_dx.cpp),
// element by element right after the reduction reads it; the same tile loop runs that input gradient alone.
#include <algorithm>
#include <memory>
#include <vector>

#include "convlite/dispatch.hpp"
#include "gemm/gemm_driver.hpp"
#include "kernels/winograd_grad_kernels.hpp"
#include "ops/conv_winograd.hpp"

namespace convlite::winograd {
namespace {

std::int64_t round16(std::int64_t n) { return (n + 15) / 16 * 16; }

// FLOPs weigh 1/8 in parallel_for (streaming kernels over L2-resident blocks).
constexpr double kGradFlopCost = 1.0 / 8.0;
// At most 4 super-chunks (so at most 4 threads): each zeroes, fills and finally adds its own partial dU
// (alpha^2 x C x F floats); 8 cost MNIST conv2's weight gradient 13% at 2 threads (1.08 against 0.96 ms).
constexpr std::int64_t kMaxSupers = 4;


// Output tile size m of the weight gradient (2: F(2x2, 3x3); 4: F(4x4, 3x3)). F(4x4) spends 36 products per 16
// outputs against F(2x2)'s 16 per 4, but rounds the map up to a multiple of 4: it is taken when its products with
// the edge waste are at most 80% of F(2x2)'s (MNIST conv2's 11x11: 3x3 tiles of 4 against 6x6 of 2, 0.56).
// Measured accuracy (32 -> 64 on 13x13, batch 64, dW against float64, numpy emulation): max error 1.6e-6 of max
// |dW| for F(4x4) with the forward's points (2.9e-6 with Lavin's 0, +-1, +-2), 3.6e-7 for F(2x2), 2.4e-6 for a
// float32 direct sum.
int tile_size(const Conv2dShape& s) {
  if (algorithm() == Algorithm::winograd2) return 2;  // the settings that force the forward's tile force this one
  if (algorithm() == Algorithm::winograd4) return 4;
  const auto tiles = [&](std::int64_t m) { return ((s.out_h + m - 1) / m) * ((s.out_w + m - 1) / m); };
  return 36 * tiles(4) * 5 <= 16 * tiles(2) * 4 ? 4 : 2;
}

// How the tiles of dy (m x m, index b * per_image + th * tiles_w + tw) are cut: `supers` super-chunks (the unit of
// threading), each in blocks of about tb tiles. With whole_images (when there are at least as many images as
// super-chunks) a super-chunk holds whole images, so the input gradient's overlapping patches of an image are all
// added by one thread, in order, and is cut into n / tb near-equal blocks (tb to 2 tb - 1 tiles: as few blocks as
// cutting at multiples of tb, each of which passes over the whole partial dU); otherwise blocks of tb are cut
// across images and shared out evenly. A function of the shape only: the weight gradient's sums are the same
// whether dx is wanted or not.
struct TileSplit {
  std::int64_t tiles = 0, per_image = 0, batch = 0, tb = 1, blocks = 0, supers = 1;
  bool whole_images = false;
  std::int64_t max_block() const { return whole_images ? 2 * tb - 1 : tb; }
  std::int64_t first(std::int64_t sc) const {
    if (whole_images) return per_image * (batch * sc / supers);
    return std::min(tiles, blocks * sc / supers * tb);
  }
  // Calls body(t0, nt) for the blocks of super-chunk sc, in order.
  template <typename Body>
  void for_blocks(std::int64_t sc, Body&& body) const {
    const std::int64_t start = first(sc), n = first(sc + 1) - start;
    if (!whole_images) {
      for (std::int64_t t0 = start; t0 < start + n; t0 += tb) body(t0, std::min(tb, start + n - t0));
      return;
    }
    const std::int64_t k = std::max<std::int64_t>(1, n / tb);
    for (std::int64_t j = 0; j < k; ++j) body(start + n * j / k, n * (j + 1) / k - n * j / k);
  }
};

TileSplit split_tiles(std::int64_t batch, std::int64_t per_image, std::int64_t tb, std::int64_t max_supers) {
  TileSplit t;
  t.batch = batch, t.per_image = per_image, t.tiles = batch * per_image, t.tb = tb;
  t.blocks = (t.tiles + tb - 1) / tb;
  t.supers = std::max<std::int64_t>(1, std::min(t.blocks, max_supers));
  t.whole_images = batch >= t.supers;
  return t;
}

// dM = A dY A^T of tiles [t0, t0 + nt) into dm (element e of tile i at dm[e * d_es + i * ldd], zeros past F).
void gradient_tiles(const Conv2dShape& s, const float* dz, int m, std::int64_t t0, std::int64_t nt, float* dm,
                    std::int64_t ldd, std::int64_t d_es) {
  const WinogradGradKernels& gk = grad_transform_kernels();
  const auto grad_tile = m == 2 ? gk.grad_tile : gk.grad_tile6;
  const std::int64_t tiles_w = (s.out_w + m - 1) / m, per_image = ((s.out_h + m - 1) / m) * tiles_w;
  const float* grad[16];
  for (std::int64_t i = 0; i < nt; ++i) {
    const std::int64_t tile = t0 + i, b = tile / per_image, rem = tile % per_image;
    const std::int64_t oy = (rem / tiles_w) * m, ox = (rem % tiles_w) * m;
    for (int a = 0; a < m; ++a)
      for (int q = 0; q < m; ++q)
        grad[a * m + q] = (oy + a < s.out_h && ox + q < s.out_w)
                              ? dz + ((b * s.out_h + oy + a) * s.out_w + ox + q) * s.out_c
                              : nullptr;
    grad_tile(grad, s.out_c, ldd, dm + i * ldd, d_es);
  }
}

}  // namespace

void input_grad_by_dy_tiles(const Conv2dShape& s, const float* dz, const float* w, float* dx) {
  const DyTileInputGrad dxg(s, w);
  const std::int64_t mr = gemm::kernels().mr, ldd = round16(s.out_c);
  // Tiles per block: the block's dM and dV (36 x tiles x (F + C_in) floats) in about 384 KB of L2, whole row tiles
  // of the microkernel, as the forward's blocks.
  const std::int64_t tb = std::clamp<std::int64_t>(98304 / (36 * (ldd + dxg.ldc)) / mr, 1, 16) * mr;
  // No partial sums to keep here, so up to 16 super-chunks (of whole images) for the threads to share.
  const TileSplit split = split_tiles(s.batch, dxg.per_image, tb, std::min<std::int64_t>(s.batch, 16));
  const std::int64_t d_es = split.max_block() * ldd + 16;
  const double flops = 2.0 * 36 * static_cast<double>(split.tiles) * s.in_c * s.out_c;
  parallel_for(split.supers, kGradFlopCost * flops / split.supers, [&](std::int64_t s0, std::int64_t s1) {
    float* dm = gemm::workspace(gemm::Slot::reduce_b, 36 * d_es);
    for (std::int64_t sc = s0; sc < s1; ++sc)
      split.for_blocks(sc, [&](std::int64_t t0, std::int64_t nt) {
        gradient_tiles(s, dz, 4, t0, nt, dm, ldd, d_es);
        dxg.add_tiles(dm, d_es, ldd, t0, nt, dx);
      });
  });
}

bool weight_grad(const Conv2dShape& s, const float* x, const float* dz, float* dw, float* db, const float* w,
                 float* dx) {
  const WinogradKernels& tk = transform_kernels();
  const WinogradGradKernels& gk = grad_transform_kernels();
  const int m = tile_size(s), alpha = m + 2, elements = alpha * alpha;
  const auto input_tile = m == 2 ? tk.input_tile : tk.input_tile4;  // the forward's transforms
  const std::int64_t c = s.in_c, f = s.out_c, ldv = round16(c), ldd = round16(f);
  const std::int64_t tiles_w = (s.out_w + m - 1) / m, per_image = ((s.out_h + m - 1) / m) * tiles_w;
  // Tiles per block: the block's V and dM for all elements in about 384 KB (64 tiles of 2x2 for 32 -> 64 channels).
  // At least 32 tiles, past L2 if need be: every block reads and writes the whole partial dU (alpha^2 x C x F), so
  // fewer tiles per block leave the reduction bound on that traffic (128 -> 128 channels by F(4x4): 10 tiles fit,
  // 2.2x slower than 32 or more; from L3 the block's V and dM cost nothing measurable).
  const std::int64_t tb = std::clamp<std::int64_t>(98304 / (elements * (ldv + ldd)), 32, 256);
  const TileSplit split = split_tiles(s.batch, per_image, tb, kMaxSupers);
  const std::int64_t supers = split.supers;
  // dx from the same dM when its route goes over dy's tiles of 4 and the super-chunks hold whole images. MNIST conv2,
  // 1 thread, batch 64 (min thread time, alternating in one process): dW and dx 3.25 ms this way, against 3.36 ms
  // with dx apart after a weight gradient cut at multiples of tb as before; that cut's dW alone took 1.73 ms against
  // 1.78 ms with whole images.
  const bool with_dx = dx && w && m == 4 && split.whole_images && input_grad_over_dy(s);
  std::unique_ptr<DyTileInputGrad> dxg;
  if (with_dx) dxg = std::make_unique<DyTileInputGrad>(s, w);
  // Element strides one cache line past a multiple of the page (as the forward's: the element streams at a 4 KB
  // multiple would share one L1 set).
  const std::int64_t v_es = split.max_block() * ldv + 16, d_es = split.max_block() * ldd + 16;
  const std::int64_t u_size = elements * c * ldd, part_stride = u_size + ldd;
  float* partial = gemm::workspace(gemm::Slot::partial, supers * part_stride);
  gemm::Buffer zeros(ldv);
  const float* zero_row = zeros.data();
  const double flops = (with_dx ? 4.0 : 2.0) * elements * static_cast<double>(split.tiles) * c * f;
  // The bias gradient comes free: element (1, 1) of dM is the sum of the tile's gradient pixels.
  const int sum_element = alpha + 1;
  parallel_for(supers, kGradFlopCost * flops / supers, [&](std::int64_t s0, std::int64_t s1) {
    float* v = gemm::workspace(gemm::Slot::reduce_a, elements * v_es);
    float* dm = gemm::workspace(gemm::Slot::reduce_b, elements * d_es);
    const float* patch[36];
    for (std::int64_t sc = s0; sc < s1; ++sc) {
      float* u = partial + sc * part_stride;
      float* ub = u + u_size;
      std::fill(u, u + part_stride, 0.0f);
      split.for_blocks(sc, [&](std::int64_t t0, std::int64_t nt) {
        if (dw)
          for (std::int64_t i = 0; i < nt; ++i) {
            const std::int64_t tile = t0 + i, b = tile / per_image, rem = tile % per_image;
            const std::int64_t iy = (rem / tiles_w) * m - s.pad_top, ix = (rem % tiles_w) * m - s.pad_left;
            for (int r = 0; r < alpha; ++r) {
              const std::int64_t yy = iy + r;
              const bool row_in = yy >= 0 && yy < s.in_h;
              const float* row = x + (b * s.in_h + (row_in ? yy : 0)) * s.in_w * c;
              for (int q = 0; q < alpha; ++q) {
                const std::int64_t xx = ix + q;
                patch[r * alpha + q] = (row_in && xx >= 0 && xx < s.in_w) ? row + xx * c : zero_row;
              }
            }
            input_tile(patch, c, v + i * ldv, v_es);
          }
        gradient_tiles(s, dz, m, t0, nt, dm, ldd, d_es);
        std::int64_t dv_es = 0;
        float* dv = with_dx ? dxg->products(nt, dv_es) : nullptr;
        for (int e = 0; e < elements; ++e) {  // dx's products right after dW's, from the same dM[e] in L1
          if (dw) gk.reduce(v + e * v_es, ldv, dm + e * d_es, ldd, nt, c, f, u + e * c * ldd, ldd);
          if (with_dx) dxg->element_products(e, dm + e * d_es, ldd, nt, dv, dv_es);
        }
        if (db) {
          const float* sums = dm + sum_element * d_es;
          for (std::int64_t i = 0; i < nt; ++i)
            for (std::int64_t j = 0; j < f; ++j) ub[j] += sums[i * ldd + j];
        }
        if (with_dx) dxg->add_patches(dv, dv_es, t0, nt, dx);
      });
    }
  });
  // Partials summed in order, in double, then dW[i][j] = sum_ab G[a][i] dU[a*alpha + b] G[b][j], rounded once.
  static constexpr double kG2[4][3] = {{1.0, 0.0, 0.0}, {0.5, 0.5, 0.5}, {0.5, -0.5, 0.5}, {0.0, 0.0, 1.0}};
  static constexpr double kG4[6][3] = {{1.0, 0.0, 0.0},           {-1.0 / 6, -1.0 / 6, -1.0 / 6},
                                       {-1.0 / 6, 1.0 / 6, -1.0 / 6}, {16.0 / 15, 8.0 / 15, 4.0 / 15},
                                       {1.0 / 30, -1.0 / 15, 2.0 / 15}, {0.0, 0.0, 1.0}};  // the forward's G
  const double* g = m == 2 ? &kG2[0][0] : &kG4[0][0];  // g[a * 3 + i] = G[a][i]
  if (dw) {
    // Per input channel (the unit of threading): dU summed over the partials, then G^T dU G as two contractions
    // (dU G over b, then G^T over a) with the filters innermost. 9 x alpha^2 multiply-adds per (c, f) done
    // directly took 0.3 ms of MNIST conv2's 2 ms on one thread for F(4x4) (and 2 ms of 128 -> 128 on 8x8).
    parallel_for(c, 6.0 * elements * f, [&](std::int64_t c0, std::int64_t c1) {
      std::vector<double> du(static_cast<std::size_t>(elements * f)), half(static_cast<std::size_t>(alpha * 3 * f));
      for (std::int64_t ci = c0; ci < c1; ++ci) {
        std::fill(du.begin(), du.end(), 0.0);
        for (std::int64_t sc = 0; sc < supers; ++sc)
          for (int e = 0; e < elements; ++e) {
            const float* src = partial + sc * part_stride + (e * c + ci) * ldd;
            double* dst = du.data() + e * f;
            for (std::int64_t j = 0; j < f; ++j) dst[j] += src[j];
          }
        std::fill(half.begin(), half.end(), 0.0);
        for (int a = 0; a < alpha; ++a)  // half[a][j] = sum_b dU[a][b] G[b][j]
          for (int b = 0; b < alpha; ++b)
            for (int j = 0; j < 3; ++j) {
              const double gb = g[b * 3 + j];
              if (gb == 0.0) continue;
              const double* src = du.data() + (a * alpha + b) * f;
              double* dst = half.data() + (a * 3 + j) * f;
              for (std::int64_t fj = 0; fj < f; ++fj) dst[fj] += gb * src[fj];
            }
        for (int i = 0; i < 3; ++i)  // dW[i][j] = sum_a G[a][i] half[a][j], rounded once
          for (int j = 0; j < 3; ++j) {
            float* out = dw + ((i * 3 + j) * c + ci) * f;
            for (std::int64_t fj = 0; fj < f; ++fj) {
              double sum = 0.0;
              for (int a = 0; a < alpha; ++a) sum += g[a * 3 + i] * half[(a * 3 + j) * f + fj];
              out[fj] = static_cast<float>(sum);
            }
          }
      }
    });
  }
  if (db)
    for (std::int64_t j = 0; j < f; ++j) {
      double sum = 0.0;
      for (std::int64_t sc = 0; sc < supers; ++sc) sum += partial[sc * part_stride + u_size + j];
      db[j] = static_cast<float>(sum);
    }
  return with_dx;
}

}  // namespace convlite::winograd

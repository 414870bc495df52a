// Winograd F(4x4, 3x3) input gradient over dy's own tiles: the transpose of the forward (conv_winograd.cpp). With
// U[e] = (G g G^T)[e] (C_in x F for each element e of the 6x6 grid), the forward is y_t = A^T [sum_c U (.) V_t] A
// with V_t = B^T d_t B; its transpose, for each 4x4 tile t of dy:
//   dM_t = A dY_t A^T                      (4x4 -> 6x6 per filter: the weight gradient's transform, shared with it)
//   dV_t[e] = U[e] dM_t[e]                 (per element e, a GEMM: tiles x F times F x C_in)
//   dx patch_t = B dV_t B^T                (6x6 per channel), overlap-added at stride 4 into dx.
// The older route (conv_winograd.cpp's input_grad) runs the forward engine on the padded dz and so tiles dx; this one
// tiles dy: a valid 3x3 conv's dy is 2 pixels smaller (MNIST conv2: 3x3 tiles for 11x11 instead of 4x4 for 13x13,
// 9/16 of the GEMM work). Patches overlap by 2 pixels: a tile adds where an earlier tile of its image (above or
// left) wrote and stores elsewhere, in tile order, so every dx pixel is one fixed sum; threads own whole images.
// Accuracy, max |dx - float64| / max |dx| (relu mask; tests/winograd_cases.py's data): MNIST conv2 (32 -> 64
// channels, 13x13 valid) batch 16 1.3e-6, batch 64 1.6e-6 (over dx's tiles of 4: 2.3e-6 and 2.8e-6; implicit GEMM
// 6.5e-7); 37 -> 37 on 16x16 9.9e-7 (1.5e-6); 256 -> 256 on 10x10 3.5e-6 (4.9e-6).
// Speed: see input_grad_over_dy.
#include <algorithm>

#include "convlite/dispatch.hpp"
#include "gemm/gemm_driver.hpp"
#include "ops/conv_winograd.hpp"

namespace convlite::winograd {
namespace {

double tiles(std::int64_t batch, std::int64_t h, std::int64_t w, int m) {
  return static_cast<double>(batch * ((h + m - 1) / m) * ((w + m - 1) / m));
}

// Picoseconds of one Winograd run producing an out_h x out_w map with k -> n channels: conv_winograd_choice.cpp's
// fitted model (per tile the (tile + 2)^2 GEMMs' multiply-adds, the transform of each input channel and output
// filter; per call the weight transform). Over dy's tiles the transforms are the same size (4x4 -> 6x6 in, 6x6 ->
// 6x6 plus a read-add out, against 6x6 -> 6x6 in and 6x6 -> 4x4 out), so the tile-of-4 constants serve both routes.
double cost(int tile, double tile_count, std::int64_t k, std::int64_t n) {
  const double ks = static_cast<double>(k), ns = static_cast<double>((n + 15) / 16 * 16);
  const double kv = static_cast<double>((k + 7) / 8 * 8);
  if (tile == 4) return tile_count * (943.0 * ks * ns + 10500.0 * kv + 10900.0 * ns) + 32000.0 * ks * ns;
  return tile_count * (336.0 * ks * ns + 3600.0 * kv + 4800.0 * ns) + 12000.0 * ks * ns;
}

}  // namespace

// Over dy's tiles where the counted cost says so. Valid padding gives dy fewer tiles (dx alone, 1 thread: MNIST
// conv2 9 per image against 16, 3.6 -> 1.9 ms; 64 -> 64 on 10x10, 4 against 9, 3.3 -> 1.5 ms; 32 -> 64 on 30x30,
// 49 against 64, 3.3 -> 2.5 ms). Same padding gives as many either way and the dx-tiled route keeps them (timed on
// 4 such shapes it was 4-9% faster on 3 of them, 4% slower on one); full padding gives dy more tiles.
// Tiles of 4 forced ('winograd4') take this route wherever it
// applies, so that tests reach it on every shape; tiles of 2 forced keep the dx-tiled route (this one has tiles of
// 4 only). Negative pads (no Keras padding makes them) keep it too: with pads >= 0 the patches cover dx.
bool input_grad_over_dy(const Conv2dShape& s) {
  const int tile = input_grad_tile(s);
  if (tile == 0 || algorithm() == Algorithm::winograd2) return false;
  if (std::min({s.pad_top, s.pad_bottom, s.pad_left, s.pad_right}) < 0) return false;
  if (algorithm() == Algorithm::winograd4) return true;
  const double over_dy = cost(4, tiles(s.batch, s.out_h, s.out_w, 4), s.out_c, s.in_c);
  const double over_dx = cost(tile, tiles(s.batch, s.in_h, s.in_w, tile), s.out_c, s.in_c);
  return over_dy < over_dx;
}

const WinogradGradKernels& grad_transform_kernels() {
#if defined(CONVLITE_HAVE_AVX2)
  if (active_isa() == Isa::avx2 || active_isa() == Isa::avx512) return winograd_grad_kernels_avx2();
#endif
  return winograd_grad_kernels_scalar();
}

DyTileInputGrad::DyTileInputGrad(const Conv2dShape& shape, const float* w) : s(shape) {
  const std::int64_t c = s.in_c, f = s.out_c;
  nr = gemm::kernels().nr;
  panels = (c + nr - 1) / nr;
  ldc = panels * nr;
  tiles_w = (s.out_w + 3) / 4;
  per_image = ((s.out_h + 3) / 4) * tiles_w;
  // U[e](c, f) as the packed B of a GEMM with K = F and N = C_in: the forward's transform of w with its two channel
  // axes swapped (a 9 x C_in x F copy, cheap next to the transform).
  float* wt = scratch(Scratch::dy_weights_transposed, 9 * c * f);
  for (int t = 0; t < 9; ++t)
    for (std::int64_t ci = 0; ci < c; ++ci)
      for (std::int64_t fi = 0; fi < f; ++fi) wt[(t * f + fi) * c + ci] = w[(t * c + ci) * f + fi];
  float* packed = scratch(Scratch::dy_transformed_weights, 36 * panels * nr * f);
  transform_weights(wt, f, c, false, nr, 4, packed);
  u = packed;
}

float* DyTileInputGrad::products(std::int64_t nt, std::int64_t& v_es) const {
  v_es = (nt + gemm::kernels().mr) * ldc + 16;  // element stride off a page multiple (see conv_winograd.cpp)
  return scratch(Scratch::dy_products, 36 * v_es);
}

void DyTileInputGrad::element_products(int e, const float* dm_e, std::int64_t ldd, std::int64_t nt, float* dv,
                                       std::int64_t v_es) const {
  const GemmKernels& gk = gemm::kernels();
  const std::int64_t mr = gk.mr, f = s.out_c;
  const float* a_rows[64];  // mr <= 64
  float* c_rows[64];
  const float* b_panel = nullptr;
  MicroTile t;
  t.taps = 1;
  t.kc = f;
  t.a = a_rows;
  t.a_step = 1;
  t.b = &b_panel;
  t.c = c_rows;
  t.nv = nr;
  // A row tile of dM against every panel of U[e] (the forward's order).
  float* ve = dv + e * v_es;
  for (std::int64_t g = 0; g < nt; g += mr) {
    t.mv = std::min(mr, nt - g);
    for (std::int64_t r = 0; r < mr; ++r) a_rows[r] = dm_e + (g + std::min(r, t.mv - 1)) * ldd;
    for (std::int64_t pj = 0; pj < panels; ++pj) {
      b_panel = u + (e * panels + pj) * f * nr;
      for (std::int64_t r = 0; r < mr; ++r) c_rows[r] = ve + (g + r) * ldc + pj * nr;
      gk.tile(t);
    }
  }
}

void DyTileInputGrad::add_patches(const float* dv, std::int64_t v_es, std::int64_t t0, std::int64_t nt,
                                  float* dx) const {
  const WinogradGradKernels& wk = grad_transform_kernels();
  float* out[36];
  for (std::int64_t i = 0; i < nt; ++i) {
    const std::int64_t index = t0 + i, b = index / per_image, rem = index % per_image;
    const std::int64_t th = rem / tiles_w, tw = rem % tiles_w;
    const std::int64_t iy = th * 4 - s.pad_top, ix = tw * 4 - s.pad_left;
    std::uint64_t accumulate = 0;
    for (int a = 0; a < 6; ++a)
      for (int q = 0; q < 6; ++q) {
        const std::int64_t yy = iy + a, xx = ix + q;
        const bool inside = yy >= 0 && yy < s.in_h && xx >= 0 && xx < s.in_w;
        out[a * 6 + q] = inside ? dx + ((b * s.in_h + yy) * s.in_w + xx) * s.in_c : nullptr;
        // The tile above (same columns) wrote patch rows 0-1, the one to the left columns 0-1.
        if ((th > 0 && a < 2) || (tw > 0 && q < 2)) accumulate |= std::uint64_t{1} << (a * 6 + q);
      }
    wk.dx_tile6(dv + i * ldc, v_es, s.in_c, out, accumulate);
  }
}

void DyTileInputGrad::add_tiles(const float* dm, std::int64_t d_es, std::int64_t ldd, std::int64_t t0,
                                std::int64_t nt, float* dx) const {
  std::int64_t v_es = 0;
  float* dv = products(nt, v_es);
  for (int e = 0; e < 36; ++e) element_products(e, dm + e * d_es, ldd, nt, dv, v_es);
  add_patches(dv, v_es, t0, nt, dx);
}

}  // namespace convlite::winograd

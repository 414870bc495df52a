// Winograd F(2x2, 3x3) and F(4x4, 3x3) convolution over NHWC. The output is cut into m x m tiles (m = 2 or 4);
// tile t reads the (m + 2)^2 input patch at (m*th - pad_top, m*tw - pad_left). Tiles are processed in blocks (the
// unit of threading):
//   1. each tile's patch is transformed for every channel, V[e][tile][c] ((m + 2)^2 = 16 or 36 matrices, the
//      block's V stays in L2),
//   2. per element e, M[e] (tiles x F) = V[e] (tiles x C_in) * U[e] (C_in x F) on the GEMM family's microkernel,
//      U = G g G^T transformed once per call into the microkernel's packed-B panels (conv_winograd_weights.cpp),
//   3. the outputs A^T M A, with bias and activation fused, go straight to y (partial tiles at odd edges).
// Each tile's result comes from the same instructions whatever the block split, so it never depends on the thread
// count. The input gradient at stride 1 is the same engine run on dz with the flipped, transposed kernel.
#include "ops/conv_winograd.hpp"

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <vector>

#include "convlite/dispatch.hpp"
#include "gemm/gemm_driver.hpp"
#include "kernels/winograd_kernels.hpp"

namespace convlite::winograd {

const WinogradKernels& transform_kernels() {
  switch (active_isa()) {
#if defined(CONVLITE_HAVE_AVX512)
    case Isa::avx512: return winograd_kernels_avx512();
#endif
#if defined(CONVLITE_HAVE_AVX2)
    case Isa::avx2: return winograd_kernels_avx2();
#endif
    default: return winograd_kernels_scalar();
  }
}

float* scratch(Scratch slot, std::int64_t n) {
  struct Free {
    void operator()(float* p) const { std::free(p); }
  };
  thread_local std::unique_ptr<float, Free> data[static_cast<int>(Scratch::count)];
  thread_local std::int64_t size[static_cast<int>(Scratch::count)] = {};
  const int i = static_cast<int>(slot);
  if (n > size[i]) {
    data[i].reset();
    size[i] = 0;
    const std::size_t bytes = (static_cast<std::size_t>(n) * sizeof(float) + 63) / 64 * 64;
    data[i].reset(static_cast<float*>(std::aligned_alloc(64, bytes)));
    if (!data[i]) throw std::bad_alloc();
    size[i] = n;
  }
  return data[i].get();
}

namespace {

const WinogradKernels& kernels() { return transform_kernels(); }


// One Winograd convolution: x (batch, in_h, in_w, in_c) -> y (batch, out_h, out_w, out_c), 3x3, stride 1, with
// output tiles of `tile` (2 or 4). Pads may be negative (the input gradient of a conv padded by more than 2 crops
// dz).
struct Plan {
  int tile = 2;
  std::int64_t batch = 0, in_h = 0, in_w = 0, in_c = 0, out_h = 0, out_w = 0, out_c = 0;
  std::int64_t pad_top = 0, pad_left = 0;
  const float* x = nullptr;
  float* y = nullptr;
  const float* bias = nullptr;
  int activation = 0;
  float negative_slope = 0.0f;
};

constexpr int kMaxAlpha = 6, kMaxElements = kMaxAlpha * kMaxAlpha;

// Tiles per block: the block's transformed input and products (elements x tiles x (C_in + F) floats) in about
// 384 KB of L2, a whole number of microkernel row tiles, between 1 and 16 of them. (36 to 96 tiles measured alike
// for 64 -> 64 channels with tiles of 2; with tiles of 4, budgets of 1x, 2x and 4x this one within the noise.)
std::int64_t tiles_per_block(int elements, std::int64_t ldv, std::int64_t ldm, std::int64_t mr) {
  const std::int64_t fit = 98304 / (elements * (ldv + ldm));
  return std::clamp<std::int64_t>(fit / mr, 1, 16) * mr;
}

void run(const Plan& p, const float* u) {
  const GemmKernels& gk = gemm::kernels();
  const WinogradKernels& wk = kernels();
  const int tile = p.tile, alpha = tile + 2, elements = alpha * alpha;
  const auto input_tile = tile == 4 ? wk.input_tile4 : wk.input_tile;
  const auto output_tile = tile == 4 ? wk.output_tile4 : wk.output_tile;
  const std::int64_t mr = gk.mr, nr = gk.nr, panels = (p.out_c + nr - 1) / nr;
  const std::int64_t tiles_h = (p.out_h + tile - 1) / tile, tiles_w = (p.out_w + tile - 1) / tile;
  const std::int64_t per_image = tiles_h * tiles_w, tiles = p.batch * per_image;
  const std::int64_t ldv = (p.in_c + 15) / 16 * 16;  // 64-byte rows
  const std::int64_t ldm = panels * nr;
  const std::int64_t tb = tiles_per_block(elements, ldv, ldm, mr);
  const std::int64_t blocks = (tiles + tb - 1) / tb;
  // Element strides one cache line past a multiple of the page: streams at a 4 KB multiple would share one L1 set
  // (8 ways) and evict each other.
  const std::int64_t v_es = tb * ldv + 16, m_es = tb * ldm + 16;
  gemm::Buffer zeros(ldv);
  const float* zero_row = zeros.data();
  const double cost = gemm::kFlopCost * 2.0 * elements * static_cast<double>(tb * p.in_c * panels * nr);
  // Blocks are handed out one at a time from a shared counter rather than in static chunks: a block's result does
  // not depend on which thread computes it (bit-identical for any thread count either way), and on a busy
  // machine a descheduled worker then delays the team by one block, not by half the layer.
  std::atomic<std::int64_t> next_block{0};
  parallel_for(blocks, cost, [&](std::int64_t, std::int64_t) {  // each worker (or the one serial call) drains the counter
    float* v = scratch(Scratch::transformed_input, elements * v_es);
    float* m = scratch(Scratch::products, elements * m_es);
    const float* patch[kMaxElements];
    float* out[16];
    const float* a_rows[64];  // mr <= 64
    float* c_rows[64];
    const float* b_panel = nullptr;
    MicroTile t;
    t.taps = 1;
    t.kc = p.in_c;
    t.a = a_rows;
    t.a_step = 1;
    t.b = &b_panel;
    t.c = c_rows;
    t.nv = nr;
    for (;;) {
      const std::int64_t block = next_block.fetch_add(1, std::memory_order_relaxed);
      if (block >= blocks) break;
      const std::int64_t t0 = block * tb, nt = std::min(tb, tiles - t0);
      for (std::int64_t i = 0; i < nt; ++i) {
        const std::int64_t index = t0 + i, b = index / per_image, rem = index % per_image;
        const std::int64_t iy = (rem / tiles_w) * tile - p.pad_top, ix = (rem % tiles_w) * tile - p.pad_left;
        for (int r = 0; r < alpha; ++r) {
          const std::int64_t yy = iy + r;
          const bool row_in = yy >= 0 && yy < p.in_h;
          const float* row = p.x + (b * p.in_h + (row_in ? yy : 0)) * p.in_w * p.in_c;
          for (int q = 0; q < alpha; ++q) {
            const std::int64_t xx = ix + q;
            patch[r * alpha + q] = (row_in && xx >= 0 && xx < p.in_w) ? row + xx * p.in_c : zero_row;
          }
        }
        input_tile(patch, p.in_c, v + i * ldv, v_es);
      }
      // Element by element, row tile by row tile: the mr A rows stay in L1 while every filter panel of U[e]
      // (C_in x nr each, together in L1/L2) passes. Measured 20% faster than panel-outer order, whose output
      // transform also ran once per panel.
      for (int e = 0; e < elements; ++e) {
        const float* ve = v + e * v_es;
        float* me = m + e * m_es;
        for (std::int64_t g = 0; g < nt; g += mr) {
          t.mv = std::min(mr, nt - g);
          for (std::int64_t r = 0; r < mr; ++r) a_rows[r] = ve + (g + std::min(r, t.mv - 1)) * ldv;  // >= mv: readable
          for (std::int64_t pj = 0; pj < panels; ++pj) {
            b_panel = u + (e * panels + pj) * p.in_c * nr;
            for (std::int64_t r = 0; r < mr; ++r) c_rows[r] = me + (g + r) * ldm + pj * nr;
            gk.tile(t);
          }
        }
      }
      for (std::int64_t i = 0; i < nt; ++i) {
        const std::int64_t index = t0 + i, b = index / per_image, rem = index % per_image;
        const std::int64_t oy = (rem / tiles_w) * tile, ox = (rem % tiles_w) * tile;
        for (int r = 0; r < tile; ++r)
          for (int q = 0; q < tile; ++q)
            out[r * tile + q] = (oy + r < p.out_h && ox + q < p.out_w)
                                    ? p.y + ((b * p.out_h + oy + r) * p.out_w + ox + q) * p.out_c
                                    : nullptr;
        output_tile(m + i * ldm, m_es, p.out_c, p.bias, out, p.activation, p.negative_slope);
      }
    }
  });
}

// F(4x4) mixes the whole 6x6 input patch into every transformed element, so an output whose 3x3 window is all
// zero comes out as rounding noise (about 1e-6 of the patch's scale) where the exact result, and TensorFlow's (a
// sum of zero products), is the bias. A relu after it then lets noise through where Keras gives exactly 0 and no
// gradient: at initialisation (zero biases) on the MNIST convnet, whose second conv reads relu'd, zero-bordered
// maps, the first step's bias gradient of that conv came out 31% off Keras's. F(2x2)'s transforms keep those
// outputs exact. So after an F(4x4) forward such outputs are rewritten with act(0 + bias): one pass flags the
// input pixels whose channels are all zero (-0 included; NaN is not zero), then each output checks its window.
#include "kernels/epilogue_scalar.inc"  // activate(v, code, slope): the GEMM microkernels' epilogue on one value

void restore_zero_windows(const Conv2dShape& s, const float* x, const float* bias, const Epilogue& epilogue,
                          float* y) {
  const std::int64_t in_pixels = s.in_h * s.in_w;
  const bool padding_window = std::max({s.pad_top, s.pad_bottom, s.pad_left, s.pad_right}) >= 3;
  parallel_for(s.batch, 2.0 * static_cast<double>(in_pixels * s.in_c), [&](std::int64_t b0, std::int64_t b1) {
    std::vector<unsigned char> zero(static_cast<std::size_t>(in_pixels));
    for (std::int64_t b = b0; b < b1; ++b) {
      const float* image = x + b * in_pixels * s.in_c;
      bool any = false;
      for (std::int64_t pix = 0; pix < in_pixels; ++pix) {
        const float* v = image + pix * s.in_c;
        std::uint32_t bits = 0;  // the channels' bits, signs dropped, ORed: 0 only for +-0 (a loop that vectorises)
        for (std::int64_t c = 0; c < s.in_c; ++c) {
          std::uint32_t u;
          std::memcpy(&u, v + c, sizeof u);
          bits |= u & 0x7fffffffu;
        }
        zero[pix] = bits == 0;
        any = any || zero[pix];
      }
      if (!any && !padding_window) continue;  // no window can be all zero
      for (std::int64_t oh = 0; oh < s.out_h; ++oh)
        for (std::int64_t ow = 0; ow < s.out_w; ++ow) {
          bool window_zero = true;  // taps outside the input are padding: zero
          for (std::int64_t i = 0; i < 3 && window_zero; ++i) {
            const std::int64_t ih = oh - s.pad_top + i;
            for (std::int64_t j = 0; j < 3 && window_zero; ++j) {
              const std::int64_t iw = ow - s.pad_left + j;
              window_zero = ih < 0 || ih >= s.in_h || iw < 0 || iw >= s.in_w || zero[ih * s.in_w + iw];
            }
          }
          if (!window_zero) continue;
          float* out = y + ((b * s.out_h + oh) * s.out_w + ow) * s.out_c;
          for (std::int64_t f = 0; f < s.out_c; ++f)  // a sum of zero products plus the bias: -0 bias gives +0
            out[f] = activate(0.0f + (bias ? bias[f] : 0.0f), static_cast<int>(epilogue.activation),
                              epilogue.negative_slope);
        }
    }
  });
}

}  // namespace

void forward(const Conv2dShape& s, const float* x, const float* w, const float* bias, float* y,
             const Epilogue& epilogue) {
  const int tile = forward_tile(s) == 4 ? 4 : 2;
  const std::int64_t nr = gemm::kernels().nr, panels = (s.out_c + nr - 1) / nr;
  float* u = scratch(Scratch::transformed_weights, (tile + 2) * (tile + 2) * panels * nr * s.in_c);
  transform_weights(w, s.in_c, s.out_c, false, nr, tile, u);
  gemm::Buffer padded_bias;
  if (bias) gemm::pad_bias(padded_bias, bias, s.out_c, nr);
  Plan p;
  p.tile = tile;
  p.batch = s.batch, p.in_h = s.in_h, p.in_w = s.in_w, p.in_c = s.in_c;
  p.out_h = s.out_h, p.out_w = s.out_w, p.out_c = s.out_c;
  p.pad_top = s.pad_top, p.pad_left = s.pad_left;
  p.x = x, p.y = y, p.bias = bias ? padded_bias.data() : nullptr;
  p.activation = static_cast<int>(epilogue.activation);
  p.negative_slope = epilogue.negative_slope;
  run(p, u);
  if (tile == 4) restore_zero_windows(s, x, bias, epilogue, y);
}

void input_grad(const Conv2dShape& s, const float* dz, const float* w, float* dx) {
  if (input_grad_over_dy(s)) return input_grad_by_dy_tiles(s, dz, w, dx);  // fewer tiles over dy (valid padding)
  const int tile = input_grad_tile(s) == 4 ? 4 : 2;
  const std::int64_t nr = gemm::kernels().nr, panels = (s.in_c + nr - 1) / nr;
  float* u = scratch(Scratch::transformed_weights, (tile + 2) * (tile + 2) * panels * nr * s.out_c);
  transform_weights(w, s.out_c, s.in_c, true, nr, tile, u);
  Plan p;
  p.tile = tile;
  p.batch = s.batch, p.in_h = s.out_h, p.in_w = s.out_w, p.in_c = s.out_c;
  p.out_h = s.in_h, p.out_w = s.in_w, p.out_c = s.in_c;
  p.pad_top = 2 - s.pad_top, p.pad_left = 2 - s.pad_left;
  p.x = dz, p.y = dx;
  run(p, u);
}

}  // namespace convlite::winograd

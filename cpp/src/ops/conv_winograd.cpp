// Winograd F(2x2, 3x3) convolution over NHWC. The output is cut into 2x2 tiles; tile t reads the 4x4 input patch
// at (2*th - pad_top, 2*tw - pad_left). Tiles are processed in blocks (the unit of threading):
//   1. each tile's patch is transformed for every channel, V[e][tile][c] (16 matrices, the block's V stays in L2),
//   2. per element e, M[e] (tiles x F) = V[e] (tiles x C_in) * U[e] (C_in x F) on the GEMM family's microkernel,
//      U = G g G^T transformed once per call into the microkernel's packed-B panels,
//   3. the outputs A^T M A, with bias and activation fused, go straight to y (partial tiles at odd edges).
// Each tile's result comes from the same instructions whatever the block split, so it never depends on the thread
// count. The input gradient at stride 1 is the same engine run on dz with the flipped, transposed kernel.
#include "ops/conv_winograd.hpp"

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <memory>
#include <stdexcept>
#include <vector>

#include "convlite/dispatch.hpp"
#include "gemm/gemm_driver.hpp"
#include "kernels/winograd_kernels.hpp"

namespace convlite::winograd {
namespace {

std::atomic<int> g_algorithm{static_cast<int>(Algorithm::automatic)};

}  // namespace

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

namespace {

const WinogradKernels& kernels() { return transform_kernels(); }

// Per-thread grow-only scratch, 64-byte aligned, contents undefined.
enum class Scratch : int { transformed_input, products, transformed_weights, count };
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

// One Winograd convolution: x (batch, in_h, in_w, in_c) -> y (batch, out_h, out_w, out_c), 3x3, stride 1.
// Pads may be negative (the input gradient of a conv padded by more than 2 crops dz).
struct Plan {
  std::int64_t batch = 0, in_h = 0, in_w = 0, in_c = 0, out_h = 0, out_w = 0, out_c = 0;
  std::int64_t pad_top = 0, pad_left = 0;
  const float* x = nullptr;
  float* y = nullptr;
  const float* bias = nullptr;
  int activation = 0;
  float negative_slope = 0.0f;
};

// U[e] = G g G^T for every (k, n) pair, in double then rounded once, written as packed-B panels:
// u[((e * panels + p) * kdim + k) * nr + j] for n = p * nr + j (zero beyond ndim).
// Forward: g(i, j) = w[i, j, k, n]. Input gradient (flip_transpose): g(i, j) = w[2 - i, 2 - j, n, k].
// One k row at a time with n innermost, so the compiler vectorises it (a 256 x 256 kernel: ~0.5 ms).
void transform_weights(const float* w, std::int64_t kdim, std::int64_t ndim, bool flip_transpose, std::int64_t nr,
                       float* u) {
  const std::int64_t panels = (ndim + nr - 1) / nr, np = panels * nr;
  const std::int64_t c = flip_transpose ? ndim : kdim, f = flip_transpose ? kdim : ndim;  // w is (3, 3, c, f)
  parallel_for(kdim, 120.0 * static_cast<double>(np), [&](std::int64_t k0, std::int64_t k1) {
    std::vector<double> g(9 * np, 0.0), gg(12 * np), out(16 * np);
    for (std::int64_t k = k0; k < k1; ++k) {
      for (int t = 0; t < 9; ++t) {  // g[t][n]
        const std::int64_t tap = flip_transpose ? 8 - t : t;
        double* gt = g.data() + t * np;
        if (flip_transpose)
          for (std::int64_t n = 0; n < ndim; ++n) gt[n] = w[(tap * c + n) * f + k];
        else
          for (std::int64_t n = 0; n < ndim; ++n) gt[n] = w[(tap * c + k) * f + n];
      }
      // G g (4 x 3), G = [1 0 0; 1/2 1/2 1/2; 1/2 -1/2 1/2; 0 0 1]; then (G g) G^T (4 x 4).
      for (int j = 0; j < 3; ++j) {
        const double *g0 = g.data() + j * np, *g1 = g.data() + (3 + j) * np, *g2 = g.data() + (6 + j) * np;
        double *r0 = gg.data() + j * np, *r1 = gg.data() + (3 + j) * np, *r2 = gg.data() + (6 + j) * np,
               *r3 = gg.data() + (9 + j) * np;
        for (std::int64_t n = 0; n < np; ++n) {
          r0[n] = g0[n];
          r1[n] = 0.5 * (g0[n] + g1[n] + g2[n]);
          r2[n] = 0.5 * (g0[n] - g1[n] + g2[n]);
          r3[n] = g2[n];
        }
      }
      for (int i = 0; i < 4; ++i) {
        const double *a0 = gg.data() + (i * 3) * np, *a1 = a0 + np, *a2 = a1 + np;
        double *o0 = out.data() + (i * 4) * np, *o1 = o0 + np, *o2 = o1 + np, *o3 = o2 + np;
        for (std::int64_t n = 0; n < np; ++n) {
          o0[n] = a0[n];
          o1[n] = 0.5 * (a0[n] + a1[n] + a2[n]);
          o2[n] = 0.5 * (a0[n] - a1[n] + a2[n]);
          o3[n] = a2[n];
        }
      }
      for (int e = 0; e < 16; ++e)
        for (std::int64_t p = 0; p < panels; ++p) {
          float* dst = u + ((e * panels + p) * kdim + k) * nr;
          const double* src = out.data() + e * np + p * nr;
          for (std::int64_t j = 0; j < nr; ++j) dst[j] = static_cast<float>(src[j]);
        }
    }
  });
}

// Tiles per block: the block's transformed input and products (16 x tiles x (C_in + F) floats) in about 384 KB
// of L2, a whole number of microkernel row tiles, between 1 and 16 of them. (36 to 96 tiles measured alike for
// 64 -> 64 channels.)
std::int64_t tiles_per_block(std::int64_t ldv, std::int64_t ldm, std::int64_t mr) {
  const std::int64_t fit = 98304 / (16 * (ldv + ldm));
  return std::clamp<std::int64_t>(fit / mr, 1, 16) * mr;
}

void run(const Plan& p, const float* u) {
  const GemmKernels& gk = gemm::kernels();
  const WinogradKernels& wk = kernels();
  const std::int64_t mr = gk.mr, nr = gk.nr, panels = (p.out_c + nr - 1) / nr;
  const std::int64_t tiles_h = (p.out_h + 1) / 2, tiles_w = (p.out_w + 1) / 2, per_image = tiles_h * tiles_w;
  const std::int64_t tiles = p.batch * per_image;
  const std::int64_t ldv = (p.in_c + 15) / 16 * 16;  // 64-byte rows
  const std::int64_t ldm = panels * nr;
  const std::int64_t tb = tiles_per_block(ldv, ldm, mr);
  const std::int64_t blocks = (tiles + tb - 1) / tb;
  // Element strides one cache line past a multiple of the page: 16 streams at a 4 KB multiple would share one
  // L1 set (8 ways) and evict each other.
  const std::int64_t v_es = tb * ldv + 16, m_es = tb * ldm + 16;
  gemm::Buffer zeros(ldv);
  const float* zero_row = zeros.data();
  const double cost = gemm::kFlopCost * 2.0 * 16.0 * static_cast<double>(tb * p.in_c * panels * nr);
  // Blocks are handed out one at a time from a shared counter rather than in static chunks: a block's result does
  // not depend on which thread computes it (bit-identical for any thread count either way), and on a busy
  // machine a descheduled worker then delays the team by one block, not by half the layer.
  std::atomic<std::int64_t> next_block{0};
  parallel_for(blocks, cost, [&](std::int64_t, std::int64_t) {  // each worker (or the one serial call) drains the counter
    float* v = scratch(Scratch::transformed_input, 16 * v_es);
    float* m = scratch(Scratch::products, 16 * m_es);
    const float* patch[16];
    float* out[4];
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
        const std::int64_t tile = t0 + i, b = tile / per_image, rem = tile % per_image;
        const std::int64_t iy = (rem / tiles_w) * 2 - p.pad_top, ix = (rem % tiles_w) * 2 - p.pad_left;
        for (int r = 0; r < 4; ++r) {
          const std::int64_t yy = iy + r;
          const bool row_in = yy >= 0 && yy < p.in_h;
          const float* row = p.x + (b * p.in_h + (row_in ? yy : 0)) * p.in_w * p.in_c;
          for (int q = 0; q < 4; ++q) {
            const std::int64_t xx = ix + q;
            patch[r * 4 + q] = (row_in && xx >= 0 && xx < p.in_w) ? row + xx * p.in_c : zero_row;
          }
        }
        wk.input_tile(patch, p.in_c, v + i * ldv, v_es);
      }
      // Element by element, row tile by row tile: the 6 A rows stay in L1 while every filter panel of U[e]
      // (C_in x nr each, together in L1/L2) passes. Measured 20% faster than panel-outer order, whose output
      // transform also ran once per panel.
      for (int e = 0; e < 16; ++e) {
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
        const std::int64_t tile = t0 + i, b = tile / per_image, rem = tile % per_image;
        const std::int64_t oy = (rem / tiles_w) * 2, ox = (rem % tiles_w) * 2;
        for (int r = 0; r < 2; ++r)
          for (int q = 0; q < 2; ++q)
            out[r * 2 + q] = (oy + r < p.out_h && ox + q < p.out_w)
                                 ? p.y + ((b * p.out_h + oy + r) * p.out_w + ox + q) * p.out_c
                                 : nullptr;
        wk.output_tile(m + i * ldm, m_es, p.out_c, p.bias, out, p.activation, p.negative_slope);
      }
    }
  });
}

// Winograd computes 2x2 tiles and transforms the weights on every call: it pays once there are enough tiles
// and they are mostly inside the output. Measured (64 -> 64 channels, GEMM time / Winograd time): 16 tiles 0.9x,
// 32 tiles 1.26x, 49 tiles 1.5x; 5x5 maps (69% of the tiles' pixels used) 1.0x, 3x3 (56%) 0.6x, 7x7 (77%) 1.1-1.3x.
bool tiles_pay(std::int64_t batch, std::int64_t out_h, std::int64_t out_w) {
  const std::int64_t tiles = batch * ((out_h + 1) / 2) * ((out_w + 1) / 2);
  return tiles >= 32 && out_h * out_w * 10 >= tiles / batch * 4 * 7;
}

// Shapes the engine handles at all.
bool structurally_eligible(const Conv2dShape& s) {
  return s.kernel_h == 3 && s.kernel_w == 3 && s.stride_h == 1 && s.stride_w == 1 && s.dilation_h == 1 &&
         s.dilation_w == 1 && s.groups == 1 && s.batch > 0 && s.in_c > 0 && s.out_c > 0 && s.in_h > 0 &&
         s.in_w > 0 && s.out_h > 0 && s.out_w > 0;
}

// Where auto picks Winograd (measured on Zen3 with AVX2, one thread, 28x28 and 7x7 maps, GEMM time / Winograd
// time): forward wins from 1.1x to 1.7x once C_in >= 16 and F >= 16, and can lose below; the input gradient
// (whose GEMM path is slower) wins 1.1x to 2x from 8 channels on either side.
constexpr std::int64_t kMinForwardChannels = 16, kMinInputGradChannels = 8;

bool chosen(bool forward, std::int64_t c_in, std::int64_t c_out, std::int64_t batch, std::int64_t out_h,
            std::int64_t out_w) {
  switch (algorithm()) {
    case Algorithm::gemm: return false;
    case Algorithm::winograd: return true;
    default: {
      const std::int64_t min = forward ? kMinForwardChannels : kMinInputGradChannels;
      return c_in >= min && c_out >= min && tiles_pay(batch, out_h, out_w);
    }
  }
}

}  // namespace

const char* algorithm_name(Algorithm a) {
  switch (a) {
    case Algorithm::gemm: return "gemm";
    case Algorithm::winograd: return "winograd";
    default: return "auto";
  }
}

Algorithm parse_algorithm(const std::string& name) {
  if (name == "auto") return Algorithm::automatic;
  if (name == "gemm") return Algorithm::gemm;
  if (name == "winograd") return Algorithm::winograd;
  throw std::invalid_argument("Unknown convolution algorithm. Expected one of 'auto', 'gemm', 'winograd'. "
                              "Received: algorithm='" + name + "'");
}

Algorithm algorithm() { return static_cast<Algorithm>(g_algorithm.load(std::memory_order_relaxed)); }

void set_algorithm(Algorithm a) { g_algorithm.store(static_cast<int>(a), std::memory_order_relaxed); }

void init_algorithm_from_environment() {
  const char* name = std::getenv("CONVLITE_CONV_ALGO");
  if (!name || !*name) return;
  try {
    set_algorithm(parse_algorithm(name));
  } catch (const std::invalid_argument&) {
    throw std::invalid_argument(std::string("Unknown convolution algorithm. Expected one of 'auto', 'gemm', "
                                            "'winograd'. Received: CONVLITE_CONV_ALGO='") + name + "'");
  }
}

bool forward_eligible(const Conv2dShape& s) {
  return structurally_eligible(s) && chosen(true, s.in_c, s.out_c, s.batch, s.out_h, s.out_w);
}

void forward(const Conv2dShape& s, const float* x, const float* w, const float* bias, float* y,
             const Epilogue& epilogue) {
  const std::int64_t nr = gemm::kernels().nr, panels = (s.out_c + nr - 1) / nr;
  float* u = scratch(Scratch::transformed_weights, 16 * panels * nr * s.in_c);
  transform_weights(w, s.in_c, s.out_c, false, nr, u);
  gemm::Buffer padded_bias;
  if (bias) gemm::pad_bias(padded_bias, bias, s.out_c, nr);
  Plan p;
  p.batch = s.batch, p.in_h = s.in_h, p.in_w = s.in_w, p.in_c = s.in_c;
  p.out_h = s.out_h, p.out_w = s.out_w, p.out_c = s.out_c;
  p.pad_top = s.pad_top, p.pad_left = s.pad_left;
  p.x = x, p.y = y, p.bias = bias ? padded_bias.data() : nullptr;
  p.activation = static_cast<int>(epilogue.activation);
  p.negative_slope = epilogue.negative_slope;
  run(p, u);
}

bool weight_grad_eligible(const Conv2dShape& s) {
  return structurally_eligible(s) && chosen(true, s.in_c, s.out_c, s.batch, s.out_h, s.out_w);
}

bool input_grad_eligible(const Conv2dShape& s) {
  return structurally_eligible(s) && chosen(false, s.out_c, s.in_c, s.batch, s.in_h, s.in_w);
}

void input_grad(const Conv2dShape& s, const float* dz, const float* w, float* dx) {
  const std::int64_t nr = gemm::kernels().nr, panels = (s.in_c + nr - 1) / nr;
  float* u = scratch(Scratch::transformed_weights, 16 * panels * nr * s.out_c);
  transform_weights(w, s.out_c, s.in_c, true, nr, u);
  Plan p;
  p.batch = s.batch, p.in_h = s.out_h, p.in_w = s.out_w, p.in_c = s.out_c;
  p.out_h = s.in_h, p.out_w = s.in_w, p.out_c = s.in_c;
  p.pad_top = 2 - s.pad_top, p.pad_left = 2 - s.pad_left;
  p.x = dz, p.y = dx;
  run(p, u);
}

}  // namespace convlite::winograd

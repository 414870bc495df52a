// Winograd convolution (conv_winograd.cpp): conv2d's forward and, at stride 1, its input gradient when the kernel
// is 3x3, stride 1, dilation 1, groups 1 and the channel counts make it measure faster than the implicit GEMM.
// Output tiles of 2x2 (F(2x2, 3x3): 2.25x fewer multiplies, transforms of additions and halvings, errors within a
// few ulps of the GEMM path's) or 4x4 (F(4x4, 3x3): 4x fewer multiplies, errors 3-8x the GEMM path's, max error
// within 7e-6 of the output's scale up to 512 channels; kernels/winograd4_math.inc). conv_winograd_choice.cpp
// picks the route and the tile.
#pragma once
#include <string>

#include "convlite/conv.hpp"
#include "kernels/winograd_grad_kernels.hpp"
#include "kernels/winograd_kernels.hpp"

namespace convlite::winograd {

// auto: Winograd where it measured faster, with the tile size a cost model prefers; gemm: never (the opt-out);
// winograd: wherever the shape allows it, even where slower, tile by the cost model; winograd2 / winograd4: the
// same with that tile size for the forward, weight and input gradients (winograd4's input gradient goes over dy's
// tiles wherever that route applies, input_grad_over_dy).
// Chosen once from CONVLITE_CONV_ALGO at import, then by the setter.
enum class Algorithm : int { automatic = 0, gemm = 1, winograd = 2, winograd2 = 3, winograd4 = 4 };
const char* algorithm_name(Algorithm a);
// Throws std::invalid_argument naming the value for anything but auto|gemm|winograd|winograd2|winograd4.
Algorithm parse_algorithm(const std::string& name);
Algorithm algorithm();
void set_algorithm(Algorithm a);
void init_algorithm_from_environment();

// Per-thread grow-only scratch (conv_winograd.cpp), 64-byte aligned, contents undefined: one slot per buffer that
// can be live at once, the forward's and the input gradient over dy's (conv_winograd_dx.cpp) apart.
enum class Scratch : int {
  transformed_input, products, transformed_weights,                  // forward, and input gradient over dx's tiles
  dy_weights_transposed, dy_transformed_weights, dy_products,        // input gradient over dy's tiles
  count
};
float* scratch(Scratch slot, std::int64_t n);

// Tile size (2 or 4) the forward / input gradient of this shape runs with, 0 for the GEMM path.
int forward_tile(const Conv2dShape& s);
int input_grad_tile(const Conv2dShape& s);

bool forward_eligible(const Conv2dShape& s);
void forward(const Conv2dShape& s, const float* x, const float* w, const float* bias, float* y,
             const Epilogue& epilogue);
// dx of conv2d_forward from dz (dL/dy with the activation mask already applied): a 3x3 stride-1 convolution of
// dz with the flipped, channel-transposed kernel and 2 - pad of padding per side. Overwrites dx.
bool input_grad_eligible(const Conv2dShape& s);
void input_grad(const Conv2dShape& s, const float* dz, const float* w, float* dx);

// Weight (and bias) gradient from x and dz (dL/dy with the activation mask already applied): dW = G^T dU G with
// dU[e] = sum over output tiles of V[e]^T dM[e] (conv_winograd_grad.cpp). Chosen as the forward is. Given w and dx
// too, it also writes dx from the same dM when the input gradient goes over dy's tiles (input_grad_over_dy) and its
// own blocks allow (tiles of 4, super-chunks of whole images), and returns whether it did; dW is the same bits
// either way.
bool weight_grad_eligible(const Conv2dShape& s);
bool weight_grad(const Conv2dShape& s, const float* x, const float* dz, float* dw, float* db,
                 const float* w = nullptr, float* dx = nullptr);

// The input gradient over dy's 4x4 tiles, the transpose of the forward (conv_winograd_dx.cpp): dM = A dY A^T,
// dV[e] = U[e] dM[e], dx patches B dV B^T overlap-added. input_grad_over_dy says whether it is cheaper than
// input_grad's route over dx's tiles (input_grad takes it then); input_grad_by_dy_tiles runs it alone
// (conv_winograd_grad.cpp, whose tile loop it shares). Overwrites dx.
bool input_grad_over_dy(const Conv2dShape& s);
void input_grad_by_dy_tiles(const Conv2dShape& s, const float* dz, const float* w, float* dx);
// The part after dM: the weights transformed once per call (on the calling thread's scratch), then add_tiles for
// tiles [t0, t0 + nt) of dy (index b * per_image + th * tiles_w + tw) given their dM (element e of tile i at
// dm[e * d_es + i * ldd], F floats, zeros to ldd). Tiles of an image must come in order, all on one thread.
struct DyTileInputGrad {
  DyTileInputGrad(const Conv2dShape& shape, const float* w);
  void add_tiles(const float* dm, std::int64_t d_es, std::int64_t ldd, std::int64_t t0, std::int64_t nt,
                 float* dx) const;
  // add_tiles in its two steps, for a caller that has each element's dM hot: dV[e] = dM[e] U[e]^T into the calling
  // thread's products buffer (for nt tiles, element stride v_es), then the patches of all 36 elements.
  float* products(std::int64_t nt, std::int64_t& v_es) const;
  void element_products(int e, const float* dm_e, std::int64_t ldd, std::int64_t nt, float* dv,
                        std::int64_t v_es) const;
  void add_patches(const float* dv, std::int64_t v_es, std::int64_t t0, std::int64_t nt, float* dx) const;
  const Conv2dShape& s;
  const float* u = nullptr;  // U[e] as K = F by N = C_in packed-B panels
  std::int64_t nr = 0, panels = 0, ldc = 0, tiles_w = 0, per_image = 0;
};
// The weight-gradient kernel table of the active ISA (AVX-512 machines use the AVX2 one).
const WinogradGradKernels& grad_transform_kernels();

// The input-transform table of the active ISA (shared with the weight gradient).
const WinogradKernels& transform_kernels();

// U = G g G^T for every (k, n) pair of a 3x3 kernel w, tile 2 or 4 ((tile + 2)^2 elements), in double then rounded
// once, written as the GEMM microkernel's packed-B panels: u[((e * panels + p) * kdim + k) * nr + j] for
// n = p * nr + j (zero beyond ndim). Forward: g(i, j) = w[i, j, k, n]; input gradient (flip_transpose):
// g(i, j) = w[2 - i, 2 - j, n, k] (conv_winograd_weights.cpp).
void transform_weights(const float* w, std::int64_t kdim, std::int64_t ndim, bool flip_transpose, std::int64_t nr,
                       int tile, float* u);

}  // namespace convlite::winograd

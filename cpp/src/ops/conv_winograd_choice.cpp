// Which route a 3x3 stride-1 convolution takes: implicit GEMM, Winograd with 2x2 tiles or with 4x4 tiles. The
// Winograd-or-GEMM rule is the measured one of F(2x2); among Winograd tiles a cost model picks the cheaper.
#include <atomic>
#include <cstdlib>
#include <stdexcept>

#include "ops/conv_winograd.hpp"

namespace convlite::winograd {
namespace {

std::atomic<int> g_algorithm{static_cast<int>(Algorithm::automatic)};

constexpr const char* kExpected = "Expected one of 'auto', 'gemm', 'winograd', 'winograd2', 'winograd4'.";

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

bool winograd_pays(bool forward, std::int64_t c_in, std::int64_t c_out, std::int64_t batch, std::int64_t out_h,
                   std::int64_t out_w) {
  const std::int64_t min = forward ? kMinForwardChannels : kMinInputGradChannels;
  return c_in >= min && c_out >= min && tiles_pay(batch, out_h, out_w);
}

// Time of one Winograd run with tiles of `tile` in picoseconds, fitted (least squares on relative error: 4% rms for
// tiles of 2, 6% for 4) to one-thread AVX2 forward timings over C_in -> F of 8->8, 16->16, 16->64, 64->16, 32->64,
// 64->64 and 128->128 on 3..28-pixel maps: per tile, the (tile + 2)^2 GEMMs' multiply-adds (filters rounded up to
// the 16-wide panels; 21 ps each with tiles of 2, 26 ps with tiles of 4: smaller blocks, U no longer in L2), the
// input transform per channel (rounded up to 8) and the output transform per filter; per call, the weight transform
// (measured on one 8x8 image: 12 and 32 ns per channel pair). Tiles of 4 then win on maps of 3, 4, 7, 8 and from 11
// pixels (9 and 10 too below 64 channels) given a few images; tiles of 2 on 1, 2, 5 and 6 (as much GEMM work
// there, cheaper transforms). It picked the faster tile on all 49 shapes timed.
double cost(int tile, std::int64_t c_in, std::int64_t c_out, std::int64_t batch, std::int64_t out_h,
            std::int64_t out_w) {
  const double tiles = static_cast<double>(batch * ((out_h + tile - 1) / tile) * ((out_w + tile - 1) / tile));
  const double filters = static_cast<double>((c_out + 15) / 16 * 16), channels = static_cast<double>(c_in);
  const double channel_vectors = static_cast<double>((c_in + 7) / 8 * 8);
  if (tile == 4)
    return tiles * (943.0 * channels * filters + 10500.0 * channel_vectors + 10900.0 * filters) +
           32000.0 * channels * filters;
  return tiles * (336.0 * channels * filters + 3600.0 * channel_vectors + 4800.0 * filters) +
         12000.0 * channels * filters;
}

int best_tile(std::int64_t c_in, std::int64_t c_out, std::int64_t batch, std::int64_t out_h, std::int64_t out_w) {
  return cost(4, c_in, c_out, batch, out_h, out_w) < cost(2, c_in, c_out, batch, out_h, out_w) ? 4 : 2;
}

// The tile for a Winograd-shaped convolution from c_in to c_out channels producing out_h x out_w maps, 0 for GEMM.
int tile_for(bool forward, std::int64_t c_in, std::int64_t c_out, std::int64_t batch, std::int64_t out_h,
             std::int64_t out_w) {
  switch (algorithm()) {
    case Algorithm::gemm: return 0;
    case Algorithm::winograd2: return 2;
    case Algorithm::winograd4: return 4;
    case Algorithm::winograd: return best_tile(c_in, c_out, batch, out_h, out_w);
    default:
      return winograd_pays(forward, c_in, c_out, batch, out_h, out_w) ? best_tile(c_in, c_out, batch, out_h, out_w)
                                                                        : 0;
  }
}

}  // namespace

const char* algorithm_name(Algorithm a) {
  switch (a) {
    case Algorithm::gemm: return "gemm";
    case Algorithm::winograd: return "winograd";
    case Algorithm::winograd2: return "winograd2";
    case Algorithm::winograd4: return "winograd4";
    default: return "auto";
  }
}

Algorithm parse_algorithm(const std::string& name) {
  for (Algorithm a : {Algorithm::automatic, Algorithm::gemm, Algorithm::winograd, Algorithm::winograd2,
                      Algorithm::winograd4})
    if (name == algorithm_name(a)) return a;
  throw std::invalid_argument(std::string("Unknown convolution algorithm. ") + kExpected +
                              " Received: algorithm='" + name + "'");
}

Algorithm algorithm() { return static_cast<Algorithm>(g_algorithm.load(std::memory_order_relaxed)); }

void set_algorithm(Algorithm a) { g_algorithm.store(static_cast<int>(a), std::memory_order_relaxed); }

void init_algorithm_from_environment() {
  const char* name = std::getenv("CONVLITE_CONV_ALGO");
  if (!name || !*name) return;
  try {
    set_algorithm(parse_algorithm(name));
  } catch (const std::invalid_argument&) {
    throw std::invalid_argument(std::string("Unknown convolution algorithm. ") + kExpected +
                                " Received: CONVLITE_CONV_ALGO='" + name + "'");
  }
}

int forward_tile(const Conv2dShape& s) {
  return structurally_eligible(s) ? tile_for(true, s.in_c, s.out_c, s.batch, s.out_h, s.out_w) : 0;
}

int input_grad_tile(const Conv2dShape& s) {
  return structurally_eligible(s) ? tile_for(false, s.out_c, s.in_c, s.batch, s.in_h, s.in_w) : 0;
}

bool forward_eligible(const Conv2dShape& s) { return forward_tile(s) != 0; }

bool input_grad_eligible(const Conv2dShape& s) { return input_grad_tile(s) != 0; }

// The weight gradient follows the forward's Winograd-or-GEMM rule; any forced Winograd forces it (its tile size:
// conv_winograd_grad.cpp).
bool weight_grad_eligible(const Conv2dShape& s) {
  if (!structurally_eligible(s)) return false;
  switch (algorithm()) {
    case Algorithm::gemm: return false;
    case Algorithm::automatic: return winograd_pays(true, s.in_c, s.out_c, s.batch, s.out_h, s.out_w);
    default: return true;
  }
}

}  // namespace convlite::winograd

// The depthwise family's kernel table (depthwise_<isa>.cpp include depthwise_math.inc; internal linkage, only the
// getters are exported). The driver (ops/depthwise.cpp) owns all geometry: it cuts each row into runs of pixels
// that read the same taps, so the kernels are pure arithmetic over channels, with no bounds checks.
#pragma once
#include <cstdint>

namespace convlite {

// A run of pixels sharing one tap list: tap t of pixel p reads src + offset[t] + p * src_step (floats), and the
// `channels` floats from there.
struct DepthwiseRun {
  const float* src = nullptr;
  std::int64_t src_step = 0;
  const std::int64_t* offset = nullptr;
  std::int64_t taps = 0;
  std::int64_t count = 0;
};

struct DepthwiseKernels {
  // out[p * out_step + c] = act(acc + bias[c]) with acc = 0 then acc = fma(src_t[c], weight[t][c], acc) for taps in
  // order (no taps gives act(bias) or 0); bias may be null (then nothing is added). activation: 0 linear, 1 relu,
  // 2 leaky relu. Forward pass, and the input gradient (a gather over dz).
  void (*gather)(const DepthwiseRun& run, const float* const* weight, const float* bias, float* out,
                 std::int64_t out_step, std::int64_t channels, int activation, float negative_slope);
  // dw[t][c] = fma(src_t[c], dz[p * dz_step + c], dw[t][c]) for pixels p in order: the running sum stays in a
  // register for the whole run.
  void (*weight_grad)(const DepthwiseRun& run, const float* dz, std::int64_t dz_step, float* const* dw,
                      std::int64_t channels);
};

const DepthwiseKernels& depthwise_kernels_scalar();
#if defined(CONVLITE_HAVE_AVX2)
const DepthwiseKernels& depthwise_kernels_avx2();
#endif
#if defined(CONVLITE_HAVE_AVX512)
const DepthwiseKernels& depthwise_kernels_avx512();
#endif
// The active ISA's table (ops/depthwise.cpp): for the depthwise op and the fused separable one.
const DepthwiseKernels& depthwise_kernels();

}  // namespace convlite

// AVX2+FMA depthwise kernels: 8 channels a vector, 8 pixels (or 8 taps) a tile; a partial last vector uses masked
// loads and stores.
#include <immintrin.h>

#include "kernels/depthwise_kernels.hpp"

namespace convlite {
namespace {

#include "kernels/vec_avx2.inc"

#include "kernels/depthwise_math.inc"

}  // namespace

const DepthwiseKernels& depthwise_kernels_avx2() { return kTable; }

}  // namespace convlite

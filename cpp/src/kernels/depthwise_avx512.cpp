// AVX-512 depthwise kernels: 16 channels a vector, masked tails. Opt-in until tested on AVX-512 hardware
// (DESIGN.md). GCC 12's AVX-512 headers trip -Wuninitialized on their own `__m512 __Y = __Y;` idiom (GCC bug 105593).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif
#include <immintrin.h>

#include "kernels/depthwise_kernels.hpp"

namespace convlite {
namespace {

#include "kernels/vec_avx512.inc"

#include "kernels/depthwise_math.inc"

}  // namespace

const DepthwiseKernels& depthwise_kernels_avx512() { return kTable; }

}  // namespace convlite

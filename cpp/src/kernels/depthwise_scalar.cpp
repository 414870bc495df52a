// Scalar depthwise kernels: one channel a "vector"; they define the semantics the SIMD tiers reproduce bit for bit
// (explicit std::fma, no other contraction: -ffp-contract=off).
#include <cmath>

#include "kernels/depthwise_kernels.hpp"

namespace convlite {
namespace {

#include "kernels/vec_scalar.inc"

#include "kernels/depthwise_math.inc"

}  // namespace

const DepthwiseKernels& depthwise_kernels_scalar() { return kTable; }

}  // namespace convlite

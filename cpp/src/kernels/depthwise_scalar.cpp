// Scalar depthwise kernels: one channel a "vector"; they define the semantics the SIMD tiers reproduce bit for bit
// (explicit std::fma, no other contraction: -ffp-contract=off).
#include <cmath>

#include "kernels/depthwise_kernels.hpp"

namespace convlite {
namespace {

constexpr int kWidth = 1;
using V = float;
using M = bool;
V vset(float a) { return a; }
V vload(const float* p) { return *p; }
void vstore(float* p, V v) { *p = v; }
V vload_part(const float* p, int) { return *p; }
void vstore_part(float* p, V v, int) { *p = v; }
V vadd(V a, V b) { return a + b; }
V vmul(V a, V b) { return a * b; }
V vfma(V a, V b, V c) { return std::fma(a, b, c); }
V vmax(V a, V b) { return a > b ? a : b; }
M vgt(V a, V b) { return a > b; }
V vsel(M m, V a, V b) { return m ? a : b; }

#include "kernels/depthwise_math.inc"

}  // namespace

const DepthwiseKernels& depthwise_kernels_scalar() { return kTable; }

}  // namespace convlite

// Scalar pooling kernels: one channel at a time; they define the semantics the SIMD tiers reproduce.
#include "kernels/pool_kernels.hpp"

namespace convlite {
namespace {

constexpr int kWidth = 1;
using V = float;
using M = bool;
using I = std::int32_t;
V vset(float a) { return a; }
V vload_part(const float* p, int) { return *p; }
void vstore_part(float* p, V v, int) { *p = v; }
V vadd(V a, V b) { return a + b; }
V vdiv(V a, V b) { return a / b; }
M vgt(V a, V b) { return a > b; }
V vmax(V a, V b) { return a > b ? a : b; }
V vsel(M m, V a, V b) { return m ? a : b; }
I isplat(std::int32_t i) { return i; }
I iload_part(const std::int32_t* p, int) { return *p; }
void istore_part(std::int32_t* p, I v, int) { *p = v; }
I isel(M m, I a, I b) { return m ? a : b; }
M ieq(I a, I b) { return a == b; }

#include "kernels/pool_math.inc"

constexpr PoolKernels kTable = {&max_pool_forward,   &avg_pool_forward,   &max_pool_backward_disjoint,
                                &avg_pool_backward,  &global_avg_forward, &global_max_forward,
                                &max_pool_forward_2x2, &avg_pool_forward_2x2, &max_pool_backward_2x2,
                                &avg_pool_backward_2x2};

}  // namespace

const PoolKernels& pool_kernels_scalar() { return kTable; }

}  // namespace convlite

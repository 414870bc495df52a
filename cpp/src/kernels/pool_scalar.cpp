// Scalar pooling kernels: one channel at a time; they define the semantics the SIMD tiers reproduce.
#include <cmath>

#include "kernels/pool_kernels.hpp"

namespace convlite {
namespace {

#include "kernels/vec_scalar.inc"
using I = std::int32_t;
I isplat(std::int32_t i) { return i; }
I iload_part(const std::int32_t* p, int) { return *p; }
void istore_part(std::int32_t* p, I v, int) { *p = v; }
I isel(M m, I a, I b) { return m ? a : b; }
M ieq(I a, I b) { return a == b; }

I cload_part(const std::uint8_t* p, int) { return *p; }
void cstore_part(std::uint8_t* p, I v, int) { *p = static_cast<std::uint8_t>(v); }
void cstore4(std::uint8_t* p, I a, I b, I c, I d) {
  p[0] = static_cast<std::uint8_t>(a);
  p[1] = static_cast<std::uint8_t>(b);
  p[2] = static_cast<std::uint8_t>(c);
  p[3] = static_cast<std::uint8_t>(d);
}

#include "kernels/pool_math.inc"

constexpr PoolKernels kTable = {&max_pool_forward,   &avg_pool_forward,   &max_pool_backward_disjoint,
                                &avg_pool_backward,  &global_avg_forward, &global_max_forward,
                                &max_pool_forward_2x2, &avg_pool_forward_2x2, &max_pool_backward_2x2,
                                &avg_pool_backward_2x2, &max_pool_forward_2x2_code,   &max_pool_backward_2x2_code};

}  // namespace

const PoolKernels& pool_kernels_scalar() { return kTable; }

}  // namespace convlite

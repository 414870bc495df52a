// Scalar pooling kernels: one channel at a time; they define the semantics the SIMD tiers reproduce.
#include <algorithm>
#include <cmath>
#include <cstring>

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
// The window code's operations in arithmetic, not selects: the compiler turned the selects on one code into a
// branch tree (random codes: mispredicted, the scalar backward ran at 3.5x the int32 one's time).
I window_code(M m1, M m2, M m3) {
  const int c1 = m1 ? 1 : 0, c2 = m2 ? 2 : 0, c3 = m3 ? 3 : 0;
  return std::max(std::max(c1, c2), c3);  // the last cell that took the lead: the highest index set
}
V keep_if_code(I where, int j, V g) {  // g where the code is j, else +0
  std::uint32_t bits;
  std::memcpy(&bits, &g, sizeof bits);
  bits &= 0u - static_cast<std::uint32_t>(where == j);
  std::memcpy(&g, &bits, sizeof bits);
  return g;
}
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

// AVX-512 optimizer kernels: 16 floats a step, masked tails; the scalar kernel's operations in the same order.
// Not chosen by default until tested on AVX-512 hardware (DESIGN.md); CONVLITE_ISA=avx512 opts in.
// GCC contracts vector mul+add into FMA by default in C++ (-ffp-contract=fast, even with -std=c++17); the
// scalar kernels are built with -ffp-contract=off, so turn contraction off here too to stay bit-identical.
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif
#include <immintrin.h>

#include <cstdint>
#include <initializer_list>

#include "kernels/optim_kernels.hpp"

namespace convlite {
namespace {

// Leading elements to run as one masked vector so that the full vectors of most of the arrays a kernel STORES to
// start on a 64-byte boundary (numpy's float32 arrays start at 0, 16, 32 or 48 mod 64, and an unaligned 64-byte
// store splits a cache line every time). The AVX2 tier's same peel made Adam 17% faster on Zen 3. Only stores
// vote; a tie keeps the smaller peel; elements are independent, so results do not depend on it. Tensors under
// 4096 elements run unpeeled, as on AVX2 (where the masked peel costs more than it saves on small tensors).
std::int64_t aligning_peel(std::int64_t n, std::initializer_list<const float*> stored) {
  if (n < 4096) return 0;
  int votes[16] = {0};
  for (const float* q : stored) {
    if (q) ++votes[(16 - (reinterpret_cast<std::uintptr_t>(q) >> 2)) & 15];
  }
  int best = 0;
  for (int k = 1; k < 16; ++k) best = votes[k] > votes[best] ? k : best;
  return best;
}

// body over [0, peel) masked, then full vectors, then the masked tail.
template <class Body>
void for_each_vector(std::int64_t n, std::int64_t peel, Body&& body) {
  std::int64_t i = 0;
  if (peel > 0) {
    body(i, static_cast<__mmask16>((1u << peel) - 1u));
    i = peel;
  }
  for (; i + 16 <= n; i += 16) body(i, static_cast<__mmask16>(0xFFFF));
  if (i < n) body(i, static_cast<__mmask16>((1u << (n - i)) - 1u));
}

inline __m512 load(const float* p, __mmask16 k) { return _mm512_maskz_loadu_ps(k, p); }
inline void store(float* p, __mmask16 k, __m512 v) { _mm512_mask_storeu_ps(p, k, v); }

void sgd(float* p, const float* g, float* vel, std::int64_t n, float lr, float momentum, bool nesterov) {
  const __m512 vlr = _mm512_set1_ps(lr), vmom = _mm512_set1_ps(momentum);
  if (!vel) {
    for_each_vector(n, aligning_peel(n, {p}), [&](std::int64_t i, __mmask16 k) {
      store(p + i, k, _mm512_sub_ps(load(p + i, k), _mm512_mul_ps(load(g + i, k), vlr)));
    });
    return;
  }
  for_each_vector(n, aligning_peel(n, {p, vel}), [&](std::int64_t i, __mmask16 k) {
    const __m512 gl = _mm512_mul_ps(load(g + i, k), vlr);
    const __m512 m = _mm512_sub_ps(_mm512_mul_ps(load(vel + i, k), vmom), gl);
    store(vel + i, k, m);
    const __m512 step = nesterov ? _mm512_sub_ps(_mm512_mul_ps(m, vmom), gl) : m;
    store(p + i, k, _mm512_add_ps(load(p + i, k), step));
  });
}

void adam(float* p, const float* g, float* m, float* v, float* vh, std::int64_t n, float alpha, float omb1,
          float omb2, float eps) {
  const __m512 va = _mm512_set1_ps(alpha), vb1 = _mm512_set1_ps(omb1), vb2 = _mm512_set1_ps(omb2),
               veps = _mm512_set1_ps(eps);
  for_each_vector(n, aligning_peel(n, {p, m, v, vh}), [&](std::int64_t i, __mmask16 k) {
    const __m512 gi = load(g + i, k), m0 = load(m + i, k), v0 = load(v + i, k);
    const __m512 mi = _mm512_add_ps(m0, _mm512_mul_ps(_mm512_sub_ps(gi, m0), vb1));
    __m512 vi = _mm512_add_ps(v0, _mm512_mul_ps(_mm512_sub_ps(_mm512_mul_ps(gi, gi), v0), vb2));
    store(m + i, k, mi);
    store(v + i, k, vi);
    if (vh) {
      vi = _mm512_max_ps(load(vh + i, k), vi);
      store(vh + i, k, vi);
    }
    const __m512 step = _mm512_div_ps(_mm512_mul_ps(mi, va), _mm512_add_ps(_mm512_sqrt_ps(vi), veps));
    store(p + i, k, _mm512_sub_ps(load(p + i, k), step));
  });
}

void rmsprop(float* p, const float* g, float* vel, float* mom, float* avg, std::int64_t n, float lr, float rho,
             float omr, float momentum, float eps) {
  const __m512 vlr = _mm512_set1_ps(lr), vrho = _mm512_set1_ps(rho), vomr = _mm512_set1_ps(omr),
               vmom = _mm512_set1_ps(momentum), veps = _mm512_set1_ps(eps);
  for_each_vector(n, aligning_peel(n, {p, vel, mom, avg}), [&](std::int64_t i, __mmask16 k) {
    const __m512 gi = load(g + i, k);
    const __m512 ve =
        _mm512_add_ps(_mm512_mul_ps(vrho, load(vel + i, k)), _mm512_mul_ps(vomr, _mm512_mul_ps(gi, gi)));
    store(vel + i, k, ve);
    __m512 denominator;
    if (avg) {
      const __m512 a = _mm512_add_ps(_mm512_mul_ps(vrho, load(avg + i, k)), _mm512_mul_ps(vomr, gi));
      store(avg + i, k, a);
      denominator = _mm512_add_ps(_mm512_sub_ps(ve, _mm512_mul_ps(a, a)), veps);
    } else {
      denominator = _mm512_add_ps(ve, veps);
    }
    const __m512 increment = _mm512_div_ps(_mm512_mul_ps(vlr, gi), _mm512_sqrt_ps(denominator));
    if (mom) {
      const __m512 mo = _mm512_add_ps(_mm512_mul_ps(vmom, load(mom + i, k)), increment);
      store(mom + i, k, mo);
      store(p + i, k, _mm512_sub_ps(load(p + i, k), mo));
    } else {
      store(p + i, k, _mm512_sub_ps(load(p + i, k), increment));
    }
  });
}

void weight_decay(float* p, std::int64_t n, float wd, float lr) {
  const __m512 vwd = _mm512_set1_ps(wd), vlr = _mm512_set1_ps(lr);
  for_each_vector(n, aligning_peel(n, {p}), [&](std::int64_t i, __mmask16 k) {
    const __m512 x = load(p + i, k);
    store(p + i, k, _mm512_sub_ps(x, _mm512_mul_ps(_mm512_mul_ps(x, vwd), vlr)));
  });
}

double sum_of_squares(const float* x, std::int64_t n) {
  __m512d lanes_lo = _mm512_setzero_pd(), lanes_hi = lanes_lo;  // lanes 0-7 and 8-15
  // No peel: lane j must take the elements i = j (mod 16). Masked-off elements load as +0.0: no change.
  for_each_vector(n, 0, [&](std::int64_t i, __mmask16 k) {
    const __m512d lo = _mm512_cvtps_pd(_mm256_maskz_loadu_ps(static_cast<__mmask8>(k), x + i));
    const __m512d hi = _mm512_cvtps_pd(_mm256_maskz_loadu_ps(static_cast<__mmask8>(k >> 8), x + i + 8));
    lanes_lo = _mm512_add_pd(lanes_lo, _mm512_mul_pd(lo, lo));
    lanes_hi = _mm512_add_pd(lanes_hi, _mm512_mul_pd(hi, hi));
  });
  // Final combination in memory (GCC 12 warns on the 512->256 extract intrinsics): u_k = l_k + l_{8+k},
  // t_k = u_k + u_{4+k}, result (t_0 + t_2) + (t_1 + t_3), the association every ISA uses.
  alignas(64) double u[8];
  _mm512_store_pd(u, _mm512_add_pd(lanes_lo, lanes_hi));
  const double t0 = u[0] + u[4], t1 = u[1] + u[5], t2 = u[2] + u[6], t3 = u[3] + u[7];
  return (t0 + t2) + (t1 + t3);
}

void scale(float* x, std::int64_t n, float f) {
  const __m512 vf = _mm512_set1_ps(f);
  for_each_vector(n, aligning_peel(n, {x}),
                  [&](std::int64_t i, __mmask16 k) { store(x + i, k, _mm512_mul_ps(load(x + i, k), vf)); });
}

void clip(float* x, std::int64_t n, float low, float high) {
  const __m512 lo = _mm512_set1_ps(low), hi = _mm512_set1_ps(high);
  for_each_vector(n, aligning_peel(n, {x}), [&](std::int64_t i, __mmask16 k) {
    store(x + i, k, _mm512_min_ps(hi, _mm512_max_ps(lo, load(x + i, k))));
  });
}

void adagrad(float* p, const float* g, float* acc, std::int64_t n, float lr, float eps) {
  const __m512 vlr = _mm512_set1_ps(lr), veps = _mm512_set1_ps(eps);
  for_each_vector(n, aligning_peel(n, {p, acc}), [&](std::int64_t i, __mmask16 k) {
    const __m512 gi = load(g + i, k);
    const __m512 a = _mm512_add_ps(load(acc + i, k), _mm512_mul_ps(gi, gi));
    store(acc + i, k, a);
    const __m512 step = _mm512_div_ps(_mm512_mul_ps(vlr, gi), _mm512_sqrt_ps(_mm512_add_ps(a, veps)));
    store(p + i, k, _mm512_sub_ps(load(p + i, k), step));
  });
}

void adadelta(float* p, const float* g, float* ag, float* ad, std::int64_t n, float lr, float rho, float omr,
              float eps) {
  const __m512 vlr = _mm512_set1_ps(lr), vrho = _mm512_set1_ps(rho), vomr = _mm512_set1_ps(omr),
               veps = _mm512_set1_ps(eps), sign_bit = _mm512_set1_ps(-0.0f);
  for_each_vector(n, aligning_peel(n, {p, ag, ad}), [&](std::int64_t i, __mmask16 k) {
    const __m512 gi = load(g + i, k);
    const __m512 a = _mm512_add_ps(_mm512_mul_ps(vrho, load(ag + i, k)), _mm512_mul_ps(vomr, _mm512_mul_ps(gi, gi)));
    store(ag + i, k, a);
    const __m512 d_old = load(ad + i, k);
    const __m512 ratio = _mm512_div_ps(_mm512_mul_ps(_mm512_sqrt_ps(_mm512_add_ps(d_old, veps)), gi),
                                       _mm512_sqrt_ps(_mm512_add_ps(a, veps)));
    const __m512 delta = _mm512_xor_ps(ratio, sign_bit);  // exact negation, as the scalar unary minus
    store(ad + i, k, _mm512_add_ps(_mm512_mul_ps(vrho, d_old), _mm512_mul_ps(vomr, _mm512_mul_ps(delta, delta))));
    store(p + i, k, _mm512_add_ps(load(p + i, k), _mm512_mul_ps(vlr, delta)));
  });
}

void adamax(float* p, const float* g, float* m, float* u, std::int64_t n, float lr, float omb1, float beta_2,
            float bias, float eps) {
  const __m512 vlr = _mm512_set1_ps(lr), vb1 = _mm512_set1_ps(omb1), vb2 = _mm512_set1_ps(beta_2),
               vbias = _mm512_set1_ps(bias), veps = _mm512_set1_ps(eps);
  for_each_vector(n, aligning_peel(n, {p, m, u}), [&](std::int64_t i, __mmask16 k) {
    const __m512 gi = load(g + i, k), m_old = load(m + i, k);
    const __m512 mi = _mm512_add_ps(m_old, _mm512_mul_ps(_mm512_sub_ps(gi, m_old), vb1));
    store(m + i, k, mi);
    const __m512 decayed = _mm512_mul_ps(vb2, load(u + i, k)), magnitude = _mm512_abs_ps(gi);
    // max_ps(a, b) = a > b ? a : b, as the scalar kernel; then a NaN `decayed` wins, as there.
    const __mmask16 nan = _mm512_cmp_ps_mask(decayed, decayed, _CMP_UNORD_Q);
    const __m512 ui = _mm512_mask_mov_ps(_mm512_max_ps(decayed, magnitude), nan, decayed);
    store(u + i, k, ui);
    const __m512 step = _mm512_div_ps(_mm512_mul_ps(vlr, mi), _mm512_mul_ps(vbias, _mm512_add_ps(ui, veps)));
    store(p + i, k, _mm512_sub_ps(load(p + i, k), step));
  });
}

void nadam(float* p, const float* g, float* m, float* v, std::int64_t n, float lr, float omb1, float omb2,
           float u_next, float omup_next, float omu_now, float omup, float omb2p, float eps) {
  const __m512 vlr = _mm512_set1_ps(lr), vb1 = _mm512_set1_ps(omb1), vb2 = _mm512_set1_ps(omb2),
               vun = _mm512_set1_ps(u_next), vdn = _mm512_set1_ps(omup_next), vcu = _mm512_set1_ps(omu_now),
               vdu = _mm512_set1_ps(omup), vd2 = _mm512_set1_ps(omb2p), veps = _mm512_set1_ps(eps);
  for_each_vector(n, aligning_peel(n, {p, m, v}), [&](std::int64_t i, __mmask16 k) {
    const __m512 gi = load(g + i, k), m_old = load(m + i, k), v_old = load(v + i, k);
    const __m512 mi = _mm512_add_ps(m_old, _mm512_mul_ps(_mm512_sub_ps(gi, m_old), vb1));
    const __m512 vi = _mm512_add_ps(v_old, _mm512_mul_ps(_mm512_sub_ps(_mm512_mul_ps(gi, gi), v_old), vb2));
    store(m + i, k, mi);
    store(v + i, k, vi);
    const __m512 m_hat = _mm512_add_ps(_mm512_div_ps(_mm512_mul_ps(vun, mi), vdn),
                                       _mm512_div_ps(_mm512_mul_ps(vcu, gi), vdu));
    const __m512 v_hat = _mm512_div_ps(vi, vd2);
    const __m512 step = _mm512_div_ps(_mm512_mul_ps(m_hat, vlr), _mm512_add_ps(_mm512_sqrt_ps(v_hat), veps));
    store(p + i, k, _mm512_sub_ps(load(p + i, k), step));
  });
}

void lion(float* p, const float* g, float* m, std::int64_t n, float lr, float beta_1, float omb1, float beta_2,
          float omb2) {
  const __m512 vlr = _mm512_set1_ps(lr), vb1 = _mm512_set1_ps(beta_1), vo1 = _mm512_set1_ps(omb1),
               vb2 = _mm512_set1_ps(beta_2), vo2 = _mm512_set1_ps(omb2), zero = _mm512_setzero_ps();
  for_each_vector(n, aligning_peel(n, {p, m}), [&](std::int64_t i, __mmask16 k) {
    const __m512 gi = load(g + i, k), m_old = load(m + i, k);
    const __m512 c = _mm512_add_ps(_mm512_mul_ps(m_old, vb1), _mm512_mul_ps(gi, vo1));
    // c > 0 ? 1 : c < 0 ? -1 : c (0 and NaN pass through), as the scalar kernel.
    __m512 sign = _mm512_mask_mov_ps(c, _mm512_cmp_ps_mask(c, zero, _CMP_LT_OQ), _mm512_set1_ps(-1.0f));
    sign = _mm512_mask_mov_ps(sign, _mm512_cmp_ps_mask(c, zero, _CMP_GT_OQ), _mm512_set1_ps(1.0f));
    store(p + i, k, _mm512_sub_ps(load(p + i, k), _mm512_mul_ps(vlr, sign)));
    store(m + i, k, _mm512_add_ps(_mm512_mul_ps(m_old, vb2), _mm512_mul_ps(gi, vo2)));
  });
}

constexpr OptimKernels kAvx512Table = {&sgd,  &adam,    &rmsprop,  &weight_decay, &sum_of_squares, &scale,
                                       &clip, &adagrad, &adadelta, &adamax,       &nadam,          &lion};

}  // namespace

const OptimKernels& optim_kernels_avx512() { return kAvx512Table; }

}  // namespace convlite

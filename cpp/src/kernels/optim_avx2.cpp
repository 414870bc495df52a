// AVX2 optimizer kernels: 8 floats a step, tails through masked loads/stores of the same vector code. Same float
// operations in the same order as optim_scalar.cpp, no FMA (ISO mode keeps mul and add separate; sqrt and div are
// correctly rounded), so results are bit-identical to scalar. One pass per tensor.
// Adam and RMSprop are bound by the divider that vsqrtps (~5 cycles a vector on Zen 3) and vdivps (~3.5) share:
// ~8.5 cycles per 8 parameters once stores are aligned and loads run ahead (see adam). A divider-free, correctly
// rounded sqrt (rsqrt, two Newton steps with FMA, an exact-residual correction; checked equal to vsqrtps on all
// 2^32 inputs and for any rsqrt table within 2^-10) made Adam SLOWER on Zen 3: 13.5-15.7 cycles per 8, and still
// 10.6-13.5 with only 1 to 4 vectors in 8 taking it or two vectors interleaved. Its ~35-cycle chain of ~12 ops
// fills Zen 3's small FP scheduler (8 dependent FMAs a vector alone run at 9 cycles a vector instead of 4).
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

__m256i tail_mask(std::int64_t rest) {
  alignas(32) static const int kBits[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};
  return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(kBits + 8 - rest));
}

// Full vectors use plain loads/stores; only the tail uses vmaskmov (its store form is microcoded and very slow on
// AMD Zen, so it must stay out of the main loop). body(i, io) is written once for both.
struct FullIo {
  __m256 load(const float* p) const { return _mm256_loadu_ps(p); }
  void store(float* p, __m256 v) const { _mm256_storeu_ps(p, v); }
};
struct TailIo {
  __m256i mask;
  __m256 load(const float* p) const { return _mm256_maskload_ps(p, mask); }
  void store(float* p, __m256 v) const { _mm256_maskstore_ps(p, mask, v); }
};

// Tensors below this many elements run unpeeled, and Adam's without early loads: the masked peel vector costs
// ~40 ns (vmaskmovps stores are microcoded on Zen), about what aligned stores save on 3000 elements.
constexpr std::int64_t kPeelMinimum = 4096;

// How many leading elements to process through the masked path so that the full vectors of most of the arrays a
// kernel STORES to start on a 32-byte boundary. A 32-byte store at 16 mod 32 straddles two cache lines every other
// vector, and numpy hands out float32 arrays at 0, 16, 32 or 48 mod 64: Adam on 1M params with param, grad, m, v
// all at 16 mod 4096 took 389 us, 370 us peeled (1 thread, Zen 3). Misaligned loads are nearly free, so only
// stores vote; a tie keeps the smaller peel. Elements are independent: where vectors start changes no result.
std::int64_t aligning_peel(std::int64_t n, std::initializer_list<const float*> stored) {
  if (n < kPeelMinimum) return 0;
  int votes[8] = {0};
  for (const float* q : stored) {
    if (q) ++votes[(8 - (reinterpret_cast<std::uintptr_t>(q) >> 2)) & 7];
  }
  int best = 0;
  for (int k = 1; k < 8; ++k) best = votes[k] > votes[best] ? k : best;
  return best;
}

// body over [0, peel) masked, then full vectors, then the masked tail.
template <class Body>
void for_each_vector(std::int64_t n, std::int64_t peel, Body&& body) {
  std::int64_t i = 0;
  if (peel > 0) {
    body(i, TailIo{tail_mask(peel)});
    i = peel;
  }
  for (; i + 8 <= n; i += 8) body(i, FullIo{});
  if (i < n) body(i, TailIo{tail_mask(n - i)});
}

void sgd(float* p, const float* g, float* vel, std::int64_t n, float lr, float momentum, bool nesterov) {
  const __m256 vlr = _mm256_set1_ps(lr), vmom = _mm256_set1_ps(momentum);
  if (!vel) {
    for_each_vector(n, aligning_peel(n, {p}), [&](std::int64_t i, auto io) {
      io.store(p + i, _mm256_sub_ps(io.load(p + i), _mm256_mul_ps(io.load(g + i), vlr)));
    });
    return;
  }
  for_each_vector(n, aligning_peel(n, {p, vel}), [&](std::int64_t i, auto io) {
    const __m256 gl = _mm256_mul_ps(io.load(g + i), vlr);
    const __m256 m = _mm256_sub_ps(_mm256_mul_ps(io.load(vel + i), vmom), gl);
    io.store(vel + i, m);
    const __m256 step = nesterov ? _mm256_sub_ps(_mm256_mul_ps(m, vmom), gl) : m;
    io.store(p + i, _mm256_add_ps(io.load(p + i), step));
  });
}

// One vector's inputs, loaded ahead of the previous vector's stores (see adam).
struct AdamInputs {
  __m256 g, m, v, p;
};

template <class Io>
AdamInputs load_adam_inputs(const Io& io, std::int64_t i, const float* p, const float* g, const float* m,
                            const float* v) {
  return {io.load(g + i), io.load(m + i), io.load(v + i), io.load(p + i)};
}

void adam(float* p, const float* g, float* m, float* v, float* vh, std::int64_t n, float alpha, float omb1,
          float omb2, float eps) {
  const __m256 va = _mm256_set1_ps(alpha), vb1 = _mm256_set1_ps(omb1), vb2 = _mm256_set1_ps(omb2),
               veps = _mm256_set1_ps(eps);
  auto update = [&](std::int64_t i, const auto& io, const AdamInputs& in) {
    const __m256 mi = _mm256_add_ps(in.m, _mm256_mul_ps(_mm256_sub_ps(in.g, in.m), vb1));
    __m256 vi = _mm256_add_ps(in.v, _mm256_mul_ps(_mm256_sub_ps(_mm256_mul_ps(in.g, in.g), in.v), vb2));
    io.store(m + i, mi);
    io.store(v + i, vi);
    if (vh) {
      vi = _mm256_max_ps(io.load(vh + i), vi);  // vh > v ? vh : v, as the scalar kernel
      io.store(vh + i, vi);
    }
    const __m256 step = _mm256_div_ps(_mm256_mul_ps(mi, va), _mm256_add_ps(_mm256_sqrt_ps(vi), veps));
    io.store(p + i, _mm256_sub_ps(in.p, step));
  };
  auto masked = [&](std::int64_t i, std::int64_t count) {
    const TailIo io{tail_mask(count)};
    update(i, io, load_adam_inputs(io, i, p, g, m, v));
  };
  if (n < kPeelMinimum) {
    for_each_vector(n, 0, [&](std::int64_t i, auto io) { update(i, io, load_adam_inputs(io, i, p, g, m, v)); });
    return;
  }
  const std::int64_t peel = aligning_peel(n, {p, m, v, vh});
  if (peel > 0) masked(0, peel);
  std::int64_t i = peel;
  // Full vectors load their inputs one vector ahead of the previous vector's stores. Arrays whose addresses differ
  // by a few dozen bytes mod 4096 (numpy's large arrays: param 16, m 48 mod 4096 in the benchmark) otherwise make
  // the loads of vector i+1 look like they depend on the stores of vector i (4K aliasing): 1M params, 1 thread,
  // Zen 3, benchmark layout: 426 us plain, 422 with the aligning peel, 365-378 with the peel and the early loads.
  // Same arithmetic per element, so the same results (arrays that partly overlap are not supported by any tier).
  if (i + 8 <= n) {
    const FullIo io;
    AdamInputs in = load_adam_inputs(io, i, p, g, m, v);
    for (; i + 16 <= n; i += 8) {
      const AdamInputs next = load_adam_inputs(io, i + 8, p, g, m, v);
      update(i, io, in);
      in = next;
    }
    update(i, io, in);
    i += 8;
  }
  if (i < n) masked(i, n - i);
}

void rmsprop(float* p, const float* g, float* vel, float* mom, float* avg, std::int64_t n, float lr, float rho,
             float omr, float momentum, float eps) {
  const __m256 vlr = _mm256_set1_ps(lr), vrho = _mm256_set1_ps(rho), vomr = _mm256_set1_ps(omr),
               vmom = _mm256_set1_ps(momentum), veps = _mm256_set1_ps(eps);
  for_each_vector(n, aligning_peel(n, {p, vel, mom, avg}), [&](std::int64_t i, auto io) {
    const __m256 gi = io.load(g + i);
    const __m256 ve =
        _mm256_add_ps(_mm256_mul_ps(vrho, io.load(vel + i)), _mm256_mul_ps(vomr, _mm256_mul_ps(gi, gi)));
    io.store(vel + i, ve);
    __m256 denominator;
    if (avg) {
      const __m256 a = _mm256_add_ps(_mm256_mul_ps(vrho, io.load(avg + i)), _mm256_mul_ps(vomr, gi));
      io.store(avg + i, a);
      denominator = _mm256_add_ps(_mm256_sub_ps(ve, _mm256_mul_ps(a, a)), veps);
    } else {
      denominator = _mm256_add_ps(ve, veps);
    }
    const __m256 increment = _mm256_div_ps(_mm256_mul_ps(vlr, gi), _mm256_sqrt_ps(denominator));
    if (mom) {
      const __m256 mo = _mm256_add_ps(_mm256_mul_ps(vmom, io.load(mom + i)), increment);
      io.store(mom + i, mo);
      io.store(p + i, _mm256_sub_ps(io.load(p + i), mo));
    } else {
      io.store(p + i, _mm256_sub_ps(io.load(p + i), increment));
    }
  });
}

void weight_decay(float* p, std::int64_t n, float wd, float lr) {
  const __m256 vwd = _mm256_set1_ps(wd), vlr = _mm256_set1_ps(lr);
  for_each_vector(n, aligning_peel(n, {p}), [&](std::int64_t i, auto io) {
    const __m256 x = io.load(p + i);
    io.store(p + i, _mm256_sub_ps(x, _mm256_mul_ps(_mm256_mul_ps(x, vwd), vlr)));
  });
}

inline __m256d square_pd(__m128 x) {
  const __m256d d = _mm256_cvtps_pd(x);
  return _mm256_mul_pd(d, d);
}

double sum_of_squares(const float* x, std::int64_t n) {
  __m256d acc0 = _mm256_setzero_pd(), acc1 = acc0, acc2 = acc0, acc3 = acc0;  // lanes 0-3, 4-7, 8-11, 12-15
  auto add16 = [&](const float* q) {
    const __m256 lo = _mm256_loadu_ps(q), hi = _mm256_loadu_ps(q + 8);
    acc0 = _mm256_add_pd(acc0, square_pd(_mm256_castps256_ps128(lo)));
    acc1 = _mm256_add_pd(acc1, square_pd(_mm256_extractf128_ps(lo, 1)));
    acc2 = _mm256_add_pd(acc2, square_pd(_mm256_castps256_ps128(hi)));
    acc3 = _mm256_add_pd(acc3, square_pd(_mm256_extractf128_ps(hi, 1)));
  };
  std::int64_t i = 0;
  for (; i + 16 <= n; i += 16) add16(x + i);
  if (i < n) {  // zero padding adds +0.0 to non-negative lanes: no change
    float pad[16] = {0};
    for (std::int64_t j = i; j < n; ++j) pad[j - i] = x[j];
    add16(pad);
  }
  const __m256d t = _mm256_add_pd(_mm256_add_pd(acc0, acc2), _mm256_add_pd(acc1, acc3));
  const __m128d s = _mm_add_pd(_mm256_castpd256_pd128(t), _mm256_extractf128_pd(t, 1));  // (t0+t2, t1+t3)
  return _mm_cvtsd_f64(_mm_add_sd(s, _mm_unpackhi_pd(s, s)));
}

void scale(float* x, std::int64_t n, float f) {
  const __m256 vf = _mm256_set1_ps(f);
  for_each_vector(n, aligning_peel(n, {x}),
                  [&](std::int64_t i, auto io) { io.store(x + i, _mm256_mul_ps(io.load(x + i), vf)); });
}

void clip(float* x, std::int64_t n, float low, float high) {
  const __m256 lo = _mm256_set1_ps(low), hi = _mm256_set1_ps(high);
  // max_ps(a, b) = a > b ? a : b, min_ps(a, b) = a < b ? a : b: a NaN x comes through both, as in scalar.
  for_each_vector(n, aligning_peel(n, {x}), [&](std::int64_t i, auto io) {
    io.store(x + i, _mm256_min_ps(hi, _mm256_max_ps(lo, io.load(x + i))));
  });
}

void adagrad(float* p, const float* g, float* acc, std::int64_t n, float lr, float eps) {
  const __m256 vlr = _mm256_set1_ps(lr), veps = _mm256_set1_ps(eps);
  for_each_vector(n, aligning_peel(n, {p, acc}), [&](std::int64_t i, auto io) {
    const __m256 gi = io.load(g + i);
    const __m256 a = _mm256_add_ps(io.load(acc + i), _mm256_mul_ps(gi, gi));
    io.store(acc + i, a);
    const __m256 step = _mm256_div_ps(_mm256_mul_ps(vlr, gi), _mm256_sqrt_ps(_mm256_add_ps(a, veps)));
    io.store(p + i, _mm256_sub_ps(io.load(p + i), step));
  });
}

void adadelta(float* p, const float* g, float* ag, float* ad, std::int64_t n, float lr, float rho, float omr,
              float eps) {
  const __m256 vlr = _mm256_set1_ps(lr), vrho = _mm256_set1_ps(rho), vomr = _mm256_set1_ps(omr),
               veps = _mm256_set1_ps(eps), sign_bit = _mm256_set1_ps(-0.0f);
  for_each_vector(n, aligning_peel(n, {p, ag, ad}), [&](std::int64_t i, auto io) {
    const __m256 gi = io.load(g + i);
    const __m256 a =
        _mm256_add_ps(_mm256_mul_ps(vrho, io.load(ag + i)), _mm256_mul_ps(vomr, _mm256_mul_ps(gi, gi)));
    io.store(ag + i, a);
    const __m256 d_old = io.load(ad + i);
    const __m256 ratio = _mm256_div_ps(_mm256_mul_ps(_mm256_sqrt_ps(_mm256_add_ps(d_old, veps)), gi),
                                       _mm256_sqrt_ps(_mm256_add_ps(a, veps)));
    const __m256 delta = _mm256_xor_ps(ratio, sign_bit);  // exact negation, as the scalar unary minus
    io.store(ad + i, _mm256_add_ps(_mm256_mul_ps(vrho, d_old), _mm256_mul_ps(vomr, _mm256_mul_ps(delta, delta))));
    io.store(p + i, _mm256_add_ps(io.load(p + i), _mm256_mul_ps(vlr, delta)));
  });
}

void adamax(float* p, const float* g, float* m, float* u, std::int64_t n, float lr, float omb1, float beta_2,
            float bias, float eps) {
  const __m256 vlr = _mm256_set1_ps(lr), vb1 = _mm256_set1_ps(omb1), vb2 = _mm256_set1_ps(beta_2),
               vbias = _mm256_set1_ps(bias), veps = _mm256_set1_ps(eps), sign_bit = _mm256_set1_ps(-0.0f);
  for_each_vector(n, aligning_peel(n, {p, m, u}), [&](std::int64_t i, auto io) {
    const __m256 gi = io.load(g + i), m_old = io.load(m + i);
    const __m256 mi = _mm256_add_ps(m_old, _mm256_mul_ps(_mm256_sub_ps(gi, m_old), vb1));
    io.store(m + i, mi);
    const __m256 decayed = _mm256_mul_ps(vb2, io.load(u + i)), magnitude = _mm256_andnot_ps(sign_bit, gi);
    // max_ps(a, b) = a > b ? a : b, as the scalar kernel; then a NaN `decayed` wins, as there.
    const __m256 ui = _mm256_blendv_ps(_mm256_max_ps(decayed, magnitude), decayed,
                                       _mm256_cmp_ps(decayed, decayed, _CMP_UNORD_Q));
    io.store(u + i, ui);
    const __m256 step =
        _mm256_div_ps(_mm256_mul_ps(vlr, mi), _mm256_mul_ps(vbias, _mm256_add_ps(ui, veps)));
    io.store(p + i, _mm256_sub_ps(io.load(p + i), step));
  });
}

void nadam(float* p, const float* g, float* m, float* v, std::int64_t n, float lr, float omb1, float omb2,
           float u_next, float omup_next, float omu_now, float omup, float omb2p, float eps) {
  const __m256 vlr = _mm256_set1_ps(lr), vb1 = _mm256_set1_ps(omb1), vb2 = _mm256_set1_ps(omb2),
               vun = _mm256_set1_ps(u_next), vdn = _mm256_set1_ps(omup_next), vcu = _mm256_set1_ps(omu_now),
               vdu = _mm256_set1_ps(omup), vd2 = _mm256_set1_ps(omb2p), veps = _mm256_set1_ps(eps);
  for_each_vector(n, aligning_peel(n, {p, m, v}), [&](std::int64_t i, auto io) {
    const __m256 gi = io.load(g + i), m_old = io.load(m + i), v_old = io.load(v + i);
    const __m256 mi = _mm256_add_ps(m_old, _mm256_mul_ps(_mm256_sub_ps(gi, m_old), vb1));
    const __m256 vi = _mm256_add_ps(v_old, _mm256_mul_ps(_mm256_sub_ps(_mm256_mul_ps(gi, gi), v_old), vb2));
    io.store(m + i, mi);
    io.store(v + i, vi);
    const __m256 m_hat = _mm256_add_ps(_mm256_div_ps(_mm256_mul_ps(vun, mi), vdn),
                                       _mm256_div_ps(_mm256_mul_ps(vcu, gi), vdu));
    const __m256 v_hat = _mm256_div_ps(vi, vd2);
    const __m256 step = _mm256_div_ps(_mm256_mul_ps(m_hat, vlr), _mm256_add_ps(_mm256_sqrt_ps(v_hat), veps));
    io.store(p + i, _mm256_sub_ps(io.load(p + i), step));
  });
}

void lion(float* p, const float* g, float* m, std::int64_t n, float lr, float beta_1, float omb1, float beta_2,
          float omb2) {
  const __m256 vlr = _mm256_set1_ps(lr), vb1 = _mm256_set1_ps(beta_1), vo1 = _mm256_set1_ps(omb1),
               vb2 = _mm256_set1_ps(beta_2), vo2 = _mm256_set1_ps(omb2), zero = _mm256_setzero_ps(),
               one = _mm256_set1_ps(1.0f), minus_one = _mm256_set1_ps(-1.0f);
  for_each_vector(n, aligning_peel(n, {p, m}), [&](std::int64_t i, auto io) {
    const __m256 gi = io.load(g + i), m_old = io.load(m + i);
    const __m256 c = _mm256_add_ps(_mm256_mul_ps(m_old, vb1), _mm256_mul_ps(gi, vo1));
    const __m256 positive = _mm256_cmp_ps(c, zero, _CMP_GT_OQ), negative = _mm256_cmp_ps(c, zero, _CMP_LT_OQ);
    // c > 0 ? 1 : c < 0 ? -1 : c (0 and NaN pass through), as the scalar kernel.
    const __m256 sign = _mm256_blendv_ps(_mm256_blendv_ps(c, minus_one, negative), one, positive);
    io.store(p + i, _mm256_sub_ps(io.load(p + i), _mm256_mul_ps(vlr, sign)));
    io.store(m + i, _mm256_add_ps(_mm256_mul_ps(m_old, vb2), _mm256_mul_ps(gi, vo2)));
  });
}

constexpr OptimKernels kAvx2Table = {&sgd,  &adam,    &rmsprop,  &weight_decay, &sum_of_squares, &scale,
                                     &clip, &adagrad, &adadelta, &adamax,       &nadam,          &lion};

}  // namespace

const OptimKernels& optim_kernels_avx2() { return kAvx2Table; }

}  // namespace convlite

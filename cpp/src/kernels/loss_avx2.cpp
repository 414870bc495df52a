// AVX2 loss kernels for the case whose size grows with the classes: categorical and sparse categorical
// cross-entropy from logits (softmax fused), the op behind every classifier head. Everything else (and every
// other row shape) calls the scalar table, which defines the semantics.
//
// Same formulas as loss_scalar.cpp, in double: max, log-sum-exp with the max subtracted, gradient
// softmax - target. Two differences, both far below float32's resolution: exp is a polynomial here (Cody-Waite
// reduction, degree-12 Taylor on |r| <= ln2/2: relative error < 4e-16 against the libm exp the scalar kernel calls),
// and the sum of exponentials runs in 8 lanes before they are added (the scalar kernel adds left to right). The
// exponentials are computed once and kept in a per-thread buffer (the scalar kernel evaluates them twice).
#include <immintrin.h>

#include <cmath>
#include <vector>

#include "kernels/loss_kernels.hpp"

namespace convlite {
namespace {

// e^x for x <= 0 (x = logit - max): below -708 the result is 0 (e^-708 ~ 3e-308 cannot move a sum that holds 1).
__m256d exp_nonpositive(__m256d x) {
  const __m256d tiny = _mm256_set1_pd(-708.0);
  const __m256d keep = _mm256_cmp_pd(x, tiny, _CMP_GE_OQ);
  x = _mm256_max_pd(x, tiny);
  const __m256d n = _mm256_round_pd(_mm256_mul_pd(x, _mm256_set1_pd(1.4426950408889634)),
                                    _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256d r = _mm256_fnmadd_pd(n, _mm256_set1_pd(6.93147180369123816490e-01), x);  // ln2 high part
  r = _mm256_fnmadd_pd(n, _mm256_set1_pd(1.90821492927058770002e-10), r);          // ln2 low part
  static constexpr double kInverseFactorial[] = {1.0 / 479001600, 1.0 / 39916800, 1.0 / 3628800, 1.0 / 362880,
                                                 1.0 / 40320,     1.0 / 5040,     1.0 / 720,     1.0 / 120,
                                                 1.0 / 24,        1.0 / 6,        1.0 / 2,       1.0,
                                                 1.0};
  __m256d p = _mm256_set1_pd(kInverseFactorial[0]);
  for (int i = 1; i < 13; ++i) p = _mm256_fmadd_pd(p, r, _mm256_set1_pd(kInverseFactorial[i]));
  // 2^n for integral n in [-1022, 0]: n + 1023 into the exponent field (the 2^52 + 2^51 shift leaves the integer
  // in the low mantissa bits).
  const __m256d shifted = _mm256_add_pd(n, _mm256_set1_pd(6755399441055744.0 + 1023.0));
  const __m256d scale = _mm256_castsi256_pd(_mm256_slli_epi64(_mm256_castpd_si256(shifted), 52));
  return _mm256_and_pd(_mm256_mul_pd(p, scale), keep);
}

// The row's maximum, or NaN when the row holds a NaN (max_ps would drop it; the caller then leaves the row to the
// scalar kernel, which propagates it as Keras does).
float row_max(const float* x, std::int64_t n) {
  std::int64_t j = 0;
  float mx = -INFINITY;
  if (n >= 8) {
    __m256 m = _mm256_loadu_ps(x), nan = _mm256_cmp_ps(m, m, _CMP_UNORD_Q);
    for (j = 8; j + 8 <= n; j += 8) {
      const __m256 v = _mm256_loadu_ps(x + j);
      m = _mm256_max_ps(m, v);
      nan = _mm256_or_ps(nan, _mm256_cmp_ps(v, v, _CMP_UNORD_Q));
    }
    if (_mm256_movemask_ps(nan)) return NAN;
    alignas(32) float lanes[8];
    _mm256_store_ps(lanes, m);
    for (float v : lanes) mx = v > mx ? v : mx;
  }
  for (; j < n; ++j) {
    if (std::isnan(x[j])) return NAN;
    mx = x[j] > mx ? x[j] : mx;
  }
  return mx;
}

// e[j] = exp(x[j] - mx) for the row; returns their sum.
double exponentials(const float* x, std::int64_t n, double mx, double* e) {
  const __m256d m = _mm256_set1_pd(mx);
  __m256d acc = _mm256_setzero_pd();
  __m256d acc2 = _mm256_setzero_pd();
  std::int64_t j = 0;
  for (; j + 8 <= n; j += 8) {  // two independent exp chains per step: each is 13 dependent FMAs deep
    const __m256d v = exp_nonpositive(_mm256_sub_pd(_mm256_cvtps_pd(_mm_loadu_ps(x + j)), m));
    const __m256d w = exp_nonpositive(_mm256_sub_pd(_mm256_cvtps_pd(_mm_loadu_ps(x + j + 4)), m));
    _mm256_storeu_pd(e + j, v);
    _mm256_storeu_pd(e + j + 4, w);
    acc = _mm256_add_pd(acc, v);
    acc2 = _mm256_add_pd(acc2, w);
  }
  acc = _mm256_add_pd(acc, acc2);
  for (; j + 4 <= n; j += 4) {
    const __m256d v = exp_nonpositive(_mm256_sub_pd(_mm256_cvtps_pd(_mm_loadu_ps(x + j)), m));
    _mm256_storeu_pd(e + j, v);
    acc = _mm256_add_pd(acc, v);
  }
  alignas(32) double lanes[4];
  _mm256_store_pd(lanes, acc);
  double sum = (lanes[0] + lanes[1]) + (lanes[2] + lanes[3]);
  for (; j < n; ++j) {
    e[j] = std::exp(static_cast<double>(x[j]) - mx);
    sum += e[j];
  }
  return sum;
}

// Categorical targets (one row of probabilities, smoothed as t (1 - ls) + ls / classes): the loss
// sum_j t_j (lse - x_j) and the gradient (e_j / se - t_j) * scale, four classes a step.
double dense_targets_row(std::int64_t n, const float* pred, const float* target, double ls, double lse, double se,
                         const double* e, double scale, float* grad) {
  const __m256d keep = _mm256_set1_pd(1.0 - ls), add = _mm256_set1_pd(ls / static_cast<double>(n));
  const __m256d vlse = _mm256_set1_pd(lse), vi = _mm256_set1_pd(1.0 / se), vs = _mm256_set1_pd(scale);
  const bool smooth = ls != 0.0;
  __m256d acc = _mm256_setzero_pd();
  std::int64_t j = 0;
  for (; j + 4 <= n; j += 4) {
    __m256d t = _mm256_cvtps_pd(_mm_loadu_ps(target + j));
    if (smooth) t = _mm256_add_pd(_mm256_mul_pd(t, keep), add);
    acc = _mm256_add_pd(acc, _mm256_mul_pd(t, _mm256_sub_pd(vlse, _mm256_cvtps_pd(_mm_loadu_ps(pred + j)))));
    if (grad)
      _mm_storeu_ps(grad + j, _mm256_cvtpd_ps(_mm256_mul_pd(_mm256_sub_pd(_mm256_mul_pd(_mm256_loadu_pd(e + j), vi),
                                                                          t), vs)));
  }
  alignas(32) double lanes[4];
  _mm256_store_pd(lanes, acc);
  double loss = (lanes[0] + lanes[1]) + (lanes[2] + lanes[3]);
  for (; j < n; ++j) {
    const double t = smooth ? target[j] * (1.0 - ls) + ls / static_cast<double>(n) : target[j];
    loss += t * (lse - pred[j]);
    if (grad) grad[j] = static_cast<float>((e[j] / se - t) * scale);
  }
  return loss;
}

double logits_row(const LossParams& p, std::int64_t n, const float* pred, const float* target, double scale,
                  float* grad) {
  const bool sparse = p.kind == LossKind::sparse_categorical_crossentropy;
  thread_local std::vector<double> buffer;
  if (static_cast<std::int64_t>(buffer.size()) < n) buffer.resize(static_cast<std::size_t>(n));
  double* e = buffer.data();  // once: every access to a thread_local goes through __tls_get_addr
  const double mx = row_max(pred, n);
  if (std::isnan(mx) || std::isinf(mx)) return loss_kernels_scalar().row(p, n, pred, target, scale, grad);
  const double se = exponentials(pred, n, mx, e);
  const double lse = mx + std::log(se);
  const double ls = p.label_smoothing;
  if (!sparse) return dense_targets_row(n, pred, target, ls, lse, se, e, scale, grad);
  const double loss = lse - pred[static_cast<std::int64_t>(*target)];
  if (!grad) return loss;
  // (e / se - 0) * scale everywhere, then the label's entry with its 1 subtracted.
  const double inv = 1.0 / se;
  const __m256d vi = _mm256_set1_pd(inv), vs = _mm256_set1_pd(scale);
  std::int64_t j = 0;
  for (; j + 4 <= n; j += 4)
    _mm_storeu_ps(grad + j, _mm256_cvtpd_ps(_mm256_mul_pd(_mm256_mul_pd(_mm256_loadu_pd(e + j), vi), vs)));
  for (; j < n; ++j) grad[j] = static_cast<float>(e[j] * inv * scale);
  const std::int64_t label = static_cast<std::int64_t>(*target);
  grad[label] = static_cast<float>((e[label] * inv - 1.0) * scale);
  return loss;
}

double loss_row(const LossParams& p, std::int64_t n, const float* pred, const float* target, double scale,
                float* grad) {
  const bool categorical = p.kind == LossKind::categorical_crossentropy ||
                           p.kind == LossKind::sparse_categorical_crossentropy;
  if (categorical && p.from_logits && n >= 8) return logits_row(p, n, pred, target, scale, grad);
  return loss_kernels_scalar().row(p, n, pred, target, scale, grad);
}

constexpr LossKernels kAvx2Table = {&loss_row};

}  // namespace

const LossKernels& loss_kernels_avx2() { return kAvx2Table; }

}  // namespace convlite

// AVX2 batch-normalization kernels: 4-16 channels a step (double accumulators in registers for the sums),
// remaining channels with the scalar expressions. Same operations and order as norm_scalar.cpp: bit-identical results.
// GCC contracts mul+add into FMA by default in C++; the scalar kernels are built without contraction.
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif
#include <immintrin.h>

#include "kernels/norm_kernels.hpp"

namespace convlite {
namespace {

// Reductions keep their accumulators in registers for a chunk of channels while walking the rows (per channel the
// additions still run row after row, as in the scalar kernel), then store them back.
inline __m256d lo4(__m256 v) { return _mm256_cvtps_pd(_mm256_castps256_ps128(v)); }
inline __m256d hi4(__m256 v) { return _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1)); }

void sum_rows(std::int64_t rows, std::int64_t channels, const float* x, double* acc) {
  std::int64_t c = 0;
  for (; c + 16 <= channels; c += 16) {
    __m256d a0 = _mm256_loadu_pd(acc + c), a1 = _mm256_loadu_pd(acc + c + 4), a2 = _mm256_loadu_pd(acc + c + 8),
            a3 = _mm256_loadu_pd(acc + c + 12);
    for (std::int64_t r = 0; r < rows; ++r) {
      const __m256 v0 = _mm256_loadu_ps(x + r * channels + c), v1 = _mm256_loadu_ps(x + r * channels + c + 8);
      a0 = _mm256_add_pd(a0, lo4(v0));
      a1 = _mm256_add_pd(a1, hi4(v0));
      a2 = _mm256_add_pd(a2, lo4(v1));
      a3 = _mm256_add_pd(a3, hi4(v1));
    }
    _mm256_storeu_pd(acc + c, a0), _mm256_storeu_pd(acc + c + 4, a1), _mm256_storeu_pd(acc + c + 8, a2),
        _mm256_storeu_pd(acc + c + 12, a3);
  }
  for (; c + 4 <= channels; c += 4) {
    __m256d a = _mm256_loadu_pd(acc + c);
    for (std::int64_t r = 0; r < rows; ++r) a = _mm256_add_pd(a, _mm256_cvtps_pd(_mm_loadu_ps(x + r * channels + c)));
    _mm256_storeu_pd(acc + c, a);
  }
  for (; c < channels; ++c) {
    double a = acc[c];
    for (std::int64_t r = 0; r < rows; ++r) a += x[r * channels + c];
    acc[c] = a;
  }
}

void sum_squared_deviation(std::int64_t rows, std::int64_t channels, const float* x, const double* mean,
                           double* acc) {
  std::int64_t c = 0;
  for (; c + 8 <= channels; c += 8) {
    const __m256d m0 = _mm256_loadu_pd(mean + c), m1 = _mm256_loadu_pd(mean + c + 4);
    __m256d a0 = _mm256_loadu_pd(acc + c), a1 = _mm256_loadu_pd(acc + c + 4);
    for (std::int64_t r = 0; r < rows; ++r) {
      const __m256 v = _mm256_loadu_ps(x + r * channels + c);
      const __m256d d0 = _mm256_sub_pd(lo4(v), m0), d1 = _mm256_sub_pd(hi4(v), m1);
      a0 = _mm256_add_pd(a0, _mm256_mul_pd(d0, d0));
      a1 = _mm256_add_pd(a1, _mm256_mul_pd(d1, d1));
    }
    _mm256_storeu_pd(acc + c, a0), _mm256_storeu_pd(acc + c + 4, a1);
  }
  for (; c + 4 <= channels; c += 4) {
    const __m256d m = _mm256_loadu_pd(mean + c);
    __m256d a = _mm256_loadu_pd(acc + c);
    for (std::int64_t r = 0; r < rows; ++r) {
      const __m256d d = _mm256_sub_pd(_mm256_cvtps_pd(_mm_loadu_ps(x + r * channels + c)), m);
      a = _mm256_add_pd(a, _mm256_mul_pd(d, d));
    }
    _mm256_storeu_pd(acc + c, a);
  }
  for (; c < channels; ++c) {
    double a = acc[c];
    for (std::int64_t r = 0; r < rows; ++r) {
      const double d = static_cast<double>(x[r * channels + c]) - mean[c];
      a += d * d;
    }
    acc[c] = a;
  }
}

void scale_shift(std::int64_t rows, std::int64_t channels, const float* x, const float* scale, const float* shift,
                 float* y) {
  if (channels == 1) {  // one channel: vectorise along rows instead
    const __m256 s = _mm256_set1_ps(scale[0]), t = _mm256_set1_ps(shift[0]);
    std::int64_t r = 0;
    for (; r + 8 <= rows; r += 8) _mm256_storeu_ps(y + r, _mm256_add_ps(_mm256_mul_ps(_mm256_loadu_ps(x + r), s), t));
    for (; r < rows; ++r) y[r] = x[r] * scale[0] + shift[0];
    return;
  }
  for (std::int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * channels;
    float* yr = y + r * channels;
    std::int64_t c = 0;
    for (; c + 8 <= channels; c += 8)
      _mm256_storeu_ps(yr + c, _mm256_add_ps(_mm256_mul_ps(_mm256_loadu_ps(xr + c), _mm256_loadu_ps(scale + c)),
                                             _mm256_loadu_ps(shift + c)));
    for (; c < channels; ++c) yr[c] = xr[c] * scale[c] + shift[c];
  }
}

void backward_sums(std::int64_t rows, std::int64_t channels, const float* x, const float* dy, const float* mean,
                   double* acc_dy, double* acc_dy_xc) {
  std::int64_t c = 0;
  for (; c + 8 <= channels; c += 8) {
    const __m256 mv = _mm256_loadu_ps(mean + c);
    const __m256d m0 = lo4(mv), m1 = hi4(mv);
    __m256d s0 = _mm256_loadu_pd(acc_dy + c), s1 = _mm256_loadu_pd(acc_dy + c + 4);
    __m256d t0 = _mm256_loadu_pd(acc_dy_xc + c), t1 = _mm256_loadu_pd(acc_dy_xc + c + 4);
    for (std::int64_t r = 0; r < rows; ++r) {
      const __m256 xv = _mm256_loadu_ps(x + r * channels + c), gv = _mm256_loadu_ps(dy + r * channels + c);
      const __m256d g0 = lo4(gv), g1 = hi4(gv);
      s0 = _mm256_add_pd(s0, g0);
      s1 = _mm256_add_pd(s1, g1);
      t0 = _mm256_add_pd(t0, _mm256_mul_pd(g0, _mm256_sub_pd(lo4(xv), m0)));
      t1 = _mm256_add_pd(t1, _mm256_mul_pd(g1, _mm256_sub_pd(hi4(xv), m1)));
    }
    _mm256_storeu_pd(acc_dy + c, s0), _mm256_storeu_pd(acc_dy + c + 4, s1);
    _mm256_storeu_pd(acc_dy_xc + c, t0), _mm256_storeu_pd(acc_dy_xc + c + 4, t1);
  }
  for (; c < channels; ++c) {
    const double m = static_cast<double>(mean[c]);
    double s = acc_dy[c], t = acc_dy_xc[c];
    for (std::int64_t r = 0; r < rows; ++r) {
      const double g = dy[r * channels + c];
      s += g;
      t += g * (static_cast<double>(x[r * channels + c]) - m);
    }
    acc_dy[c] = s, acc_dy_xc[c] = t;
  }
}

void backward_dx(std::int64_t rows, std::int64_t channels, const float* x, const float* dy, const float* mean,
                 const float* inv_std, const float* scale, const float* mean_dy, const float* mean_dy_xhat,
                 float* dx) {
  for (std::int64_t r = 0; r < rows; ++r) {
    const std::int64_t o = r * channels;
    std::int64_t c = 0;
    for (; c + 8 <= channels; c += 8) {
      const __m256 xhat = _mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(x + o + c), _mm256_loadu_ps(mean + c)),
                                        _mm256_loadu_ps(inv_std + c));
      const __m256 centred = _mm256_sub_ps(_mm256_loadu_ps(dy + o + c), _mm256_loadu_ps(mean_dy + c));
      const __m256 inner = _mm256_sub_ps(centred, _mm256_mul_ps(xhat, _mm256_loadu_ps(mean_dy_xhat + c)));
      _mm256_storeu_ps(dx + o + c, _mm256_mul_ps(_mm256_loadu_ps(scale + c), inner));
    }
    for (; c < channels; ++c) {
      const float xhat = (x[o + c] - mean[c]) * inv_std[c];
      dx[o + c] = scale[c] * ((dy[o + c] - mean_dy[c]) - xhat * mean_dy_xhat[c]);
    }
  }
}

constexpr NormKernels kAvx2Table = {&sum_rows, &sum_squared_deviation, &scale_shift, &backward_sums, &backward_dx};

}  // namespace

const NormKernels& norm_kernels_avx2() { return kAvx2Table; }

}  // namespace convlite

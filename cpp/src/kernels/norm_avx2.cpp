// AVX2 batch-normalization kernels: 8 channels a step (two 4-wide double accumulators for the sums), remaining
// channels with the scalar expressions. Same operations and order as norm_scalar.cpp: bit-identical results.
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

inline void add_pd(double* acc, __m256d v) { _mm256_storeu_pd(acc, _mm256_add_pd(_mm256_loadu_pd(acc), v)); }

void sum_rows(std::int64_t rows, std::int64_t channels, const float* x, double* acc) {
  for (std::int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * channels;
    std::int64_t c = 0;
    for (; c + 8 <= channels; c += 8) {
      const __m256 v = _mm256_loadu_ps(xr + c);
      add_pd(acc + c, _mm256_cvtps_pd(_mm256_castps256_ps128(v)));
      add_pd(acc + c + 4, _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1)));
    }
    for (; c < channels; ++c) acc[c] += xr[c];
  }
}

void sum_squared_deviation(std::int64_t rows, std::int64_t channels, const float* x, const double* mean,
                           double* acc) {
  for (std::int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * channels;
    std::int64_t c = 0;
    for (; c + 8 <= channels; c += 8) {
      const __m256 v = _mm256_loadu_ps(xr + c);
      const __m256d d0 = _mm256_sub_pd(_mm256_cvtps_pd(_mm256_castps256_ps128(v)), _mm256_loadu_pd(mean + c));
      const __m256d d1 = _mm256_sub_pd(_mm256_cvtps_pd(_mm256_extractf128_ps(v, 1)), _mm256_loadu_pd(mean + c + 4));
      add_pd(acc + c, _mm256_mul_pd(d0, d0));
      add_pd(acc + c + 4, _mm256_mul_pd(d1, d1));
    }
    for (; c < channels; ++c) {
      const double d = static_cast<double>(xr[c]) - mean[c];
      acc[c] += d * d;
    }
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
  for (std::int64_t r = 0; r < rows; ++r) {
    const float *xr = x + r * channels, *gr = dy + r * channels;
    std::int64_t c = 0;
    for (; c + 8 <= channels; c += 8) {
      const __m256 xv = _mm256_loadu_ps(xr + c), gv = _mm256_loadu_ps(gr + c), mv = _mm256_loadu_ps(mean + c);
      for (int half = 0; half < 2; ++half) {
        const __m128 xs = half ? _mm256_extractf128_ps(xv, 1) : _mm256_castps256_ps128(xv);
        const __m128 gs = half ? _mm256_extractf128_ps(gv, 1) : _mm256_castps256_ps128(gv);
        const __m128 ms = half ? _mm256_extractf128_ps(mv, 1) : _mm256_castps256_ps128(mv);
        const __m256d g = _mm256_cvtps_pd(gs);
        add_pd(acc_dy + c + 4 * half, g);
        add_pd(acc_dy_xc + c + 4 * half, _mm256_mul_pd(g, _mm256_sub_pd(_mm256_cvtps_pd(xs), _mm256_cvtps_pd(ms))));
      }
    }
    for (; c < channels; ++c) {
      const double g = gr[c];
      acc_dy[c] += g;
      acc_dy_xc[c] += g * (static_cast<double>(xr[c]) - static_cast<double>(mean[c]));
    }
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

// AVX-512 batch-normalization kernels: 16 channels a step (two 8-wide double accumulators for the sums), remaining
// channels with the scalar expressions; same operations and order as norm_scalar.cpp.
// Not chosen by default until tested on AVX-512 hardware (DESIGN.md); CONVLITE_ISA=avx512 opts in.
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif
#include <immintrin.h>

#include "kernels/norm_kernels.hpp"

namespace convlite {
namespace {

inline void add_pd(double* acc, __m512d v) { _mm512_storeu_pd(acc, _mm512_add_pd(_mm512_loadu_pd(acc), v)); }
inline __m512d lo_pd(const float* p) { return _mm512_cvtps_pd(_mm256_loadu_ps(p)); }
inline __m512d hi_pd(const float* p) { return _mm512_cvtps_pd(_mm256_loadu_ps(p + 8)); }

void sum_rows(std::int64_t rows, std::int64_t channels, const float* x, double* acc) {
  for (std::int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * channels;
    std::int64_t c = 0;
    for (; c + 16 <= channels; c += 16) {
      add_pd(acc + c, lo_pd(xr + c));
      add_pd(acc + c + 8, hi_pd(xr + c));
    }
    for (; c < channels; ++c) acc[c] += xr[c];
  }
}

void sum_squared_deviation(std::int64_t rows, std::int64_t channels, const float* x, const double* mean,
                           double* acc) {
  for (std::int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * channels;
    std::int64_t c = 0;
    for (; c + 16 <= channels; c += 16) {
      const __m512d d0 = _mm512_sub_pd(lo_pd(xr + c), _mm512_loadu_pd(mean + c));
      const __m512d d1 = _mm512_sub_pd(hi_pd(xr + c), _mm512_loadu_pd(mean + c + 8));
      add_pd(acc + c, _mm512_mul_pd(d0, d0));
      add_pd(acc + c + 8, _mm512_mul_pd(d1, d1));
    }
    for (; c < channels; ++c) {
      const double d = static_cast<double>(xr[c]) - mean[c];
      acc[c] += d * d;
    }
  }
}

void scale_shift(std::int64_t rows, std::int64_t channels, const float* x, const float* scale, const float* shift,
                 float* y) {
  if (channels == 1) {
    const __m512 s = _mm512_set1_ps(scale[0]), t = _mm512_set1_ps(shift[0]);
    std::int64_t r = 0;
    for (; r + 16 <= rows; r += 16) _mm512_storeu_ps(y + r, _mm512_add_ps(_mm512_mul_ps(_mm512_loadu_ps(x + r), s), t));
    for (; r < rows; ++r) y[r] = x[r] * scale[0] + shift[0];
    return;
  }
  for (std::int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * channels;
    float* yr = y + r * channels;
    std::int64_t c = 0;
    for (; c + 16 <= channels; c += 16)
      _mm512_storeu_ps(yr + c, _mm512_add_ps(_mm512_mul_ps(_mm512_loadu_ps(xr + c), _mm512_loadu_ps(scale + c)),
                                             _mm512_loadu_ps(shift + c)));
    for (; c < channels; ++c) yr[c] = xr[c] * scale[c] + shift[c];
  }
}

void backward_sums(std::int64_t rows, std::int64_t channels, const float* x, const float* dy, const float* mean,
                   double* acc_dy, double* acc_dy_xc) {
  for (std::int64_t r = 0; r < rows; ++r) {
    const float *xr = x + r * channels, *gr = dy + r * channels;
    std::int64_t c = 0;
    for (; c + 16 <= channels; c += 16) {
      const __m512d g0 = lo_pd(gr + c), g1 = hi_pd(gr + c);
      add_pd(acc_dy + c, g0);
      add_pd(acc_dy + c + 8, g1);
      add_pd(acc_dy_xc + c, _mm512_mul_pd(g0, _mm512_sub_pd(lo_pd(xr + c), lo_pd(mean + c))));
      add_pd(acc_dy_xc + c + 8, _mm512_mul_pd(g1, _mm512_sub_pd(hi_pd(xr + c), hi_pd(mean + c))));
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
    for (; c + 16 <= channels; c += 16) {
      const __m512 xhat = _mm512_mul_ps(_mm512_sub_ps(_mm512_loadu_ps(x + o + c), _mm512_loadu_ps(mean + c)),
                                        _mm512_loadu_ps(inv_std + c));
      const __m512 centred = _mm512_sub_ps(_mm512_loadu_ps(dy + o + c), _mm512_loadu_ps(mean_dy + c));
      const __m512 inner = _mm512_sub_ps(centred, _mm512_mul_ps(xhat, _mm512_loadu_ps(mean_dy_xhat + c)));
      _mm512_storeu_ps(dx + o + c, _mm512_mul_ps(_mm512_loadu_ps(scale + c), inner));
    }
    for (; c < channels; ++c) {
      const float xhat = (x[o + c] - mean[c]) * inv_std[c];
      dx[o + c] = scale[c] * ((dy[o + c] - mean_dy[c]) - xhat * mean_dy_xhat[c]);
    }
  }
}

constexpr NormKernels kAvx512Table = {&sum_rows, &sum_squared_deviation, &scale_shift, &backward_sums,
                                      &backward_dx};

}  // namespace

const NormKernels& norm_kernels_avx512() { return kAvx512Table; }

}  // namespace convlite

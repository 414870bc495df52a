// AVX-512 depthwise kernels (opt-in until tested on hardware): the AVX2 scheme at 512 bits, 32 channels a step,
// depth multipliers > 1 broadcast the input channel across its dm outputs. Scalar tails.
#include <immintrin.h>

#include "kernels/depthwise_kernels.hpp"

namespace convlite {
namespace {

float activate1(float v, int activation, float slope) {
  if (activation == 1) return v < 0.0f ? 0.0f : v;  // NaN stays NaN
  if (activation == 2) return v > 0.0f ? v : v * slope;
  return v;
}

__m512 activate(__m512 v, int activation, __m512 slope) {
  if (activation == 1) return _mm512_max_ps(_mm512_setzero_ps(), v);  // keeps NaN
  if (activation == 2)
    return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(v, _mm512_setzero_ps(), _CMP_GT_OQ), _mm512_mul_ps(v, slope), v);
  return v;
}

void forward_pixel(std::int64_t taps, const float* const* x, const float* const* w, const float* bias, float* y,
                   std::int64_t channels, std::int64_t dm, int activation, float slope) {
  const std::int64_t cout = channels * dm;
  const __m512 vslope = _mm512_set1_ps(slope);
  if (dm == 1) {
    std::int64_t o = 0;
    for (; o + 32 <= cout; o += 32) {
      __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
      for (std::int64_t t = 0; t < taps; ++t) {
        acc0 = _mm512_fmadd_ps(_mm512_loadu_ps(x[t] + o), _mm512_loadu_ps(w[t] + o), acc0);
        acc1 = _mm512_fmadd_ps(_mm512_loadu_ps(x[t] + o + 16), _mm512_loadu_ps(w[t] + o + 16), acc1);
      }
      if (bias) {
        acc0 = _mm512_add_ps(acc0, _mm512_loadu_ps(bias + o));
        acc1 = _mm512_add_ps(acc1, _mm512_loadu_ps(bias + o + 16));
      }
      _mm512_storeu_ps(y + o, activate(acc0, activation, vslope));
      _mm512_storeu_ps(y + o + 16, activate(acc1, activation, vslope));
    }
    for (; o + 16 <= cout; o += 16) {
      __m512 acc = _mm512_setzero_ps();
      for (std::int64_t t = 0; t < taps; ++t)
        acc = _mm512_fmadd_ps(_mm512_loadu_ps(x[t] + o), _mm512_loadu_ps(w[t] + o), acc);
      if (bias) acc = _mm512_add_ps(acc, _mm512_loadu_ps(bias + o));
      _mm512_storeu_ps(y + o, activate(acc, activation, vslope));
    }
    for (; o < cout; ++o) {
      float acc = 0.0f;
      for (std::int64_t t = 0; t < taps; ++t) acc += x[t][o] * w[t][o];
      if (bias) acc += bias[o];
      y[o] = activate1(acc, activation, slope);
    }
    return;
  }
  for (std::int64_t c = 0; c < channels; ++c) {
    const std::int64_t base = c * dm;
    std::int64_t m = 0;
    for (; m + 16 <= dm; m += 16) {
      __m512 acc = _mm512_setzero_ps();
      for (std::int64_t t = 0; t < taps; ++t)
        acc = _mm512_fmadd_ps(_mm512_set1_ps(x[t][c]), _mm512_loadu_ps(w[t] + base + m), acc);
      if (bias) acc = _mm512_add_ps(acc, _mm512_loadu_ps(bias + base + m));
      _mm512_storeu_ps(y + base + m, activate(acc, activation, vslope));
    }
    for (; m < dm; ++m) {
      float acc = 0.0f;
      for (std::int64_t t = 0; t < taps; ++t) acc += x[t][c] * w[t][base + m];
      if (bias) acc += bias[base + m];
      y[base + m] = activate1(acc, activation, slope);
    }
  }
}

void input_grad_pixel(std::int64_t taps, const float* const* dz, const float* const* w, float* dx,
                      std::int64_t channels, std::int64_t dm) {
  if (dm == 1) {
    std::int64_t c = 0;
    for (; c + 32 <= channels; c += 32) {
      __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
      for (std::int64_t t = 0; t < taps; ++t) {
        acc0 = _mm512_fmadd_ps(_mm512_loadu_ps(dz[t] + c), _mm512_loadu_ps(w[t] + c), acc0);
        acc1 = _mm512_fmadd_ps(_mm512_loadu_ps(dz[t] + c + 16), _mm512_loadu_ps(w[t] + c + 16), acc1);
      }
      _mm512_storeu_ps(dx + c, acc0);
      _mm512_storeu_ps(dx + c + 16, acc1);
    }
    for (; c + 16 <= channels; c += 16) {
      __m512 acc = _mm512_setzero_ps();
      for (std::int64_t t = 0; t < taps; ++t)
        acc = _mm512_fmadd_ps(_mm512_loadu_ps(dz[t] + c), _mm512_loadu_ps(w[t] + c), acc);
      _mm512_storeu_ps(dx + c, acc);
    }
    for (; c < channels; ++c) {
      float acc = 0.0f;
      for (std::int64_t t = 0; t < taps; ++t) acc += dz[t][c] * w[t][c];
      dx[c] = acc;
    }
    return;
  }
  for (std::int64_t c = 0; c < channels; ++c) {
    float acc = 0.0f;
    for (std::int64_t t = 0; t < taps; ++t)
      for (std::int64_t m = 0; m < dm; ++m) acc += dz[t][c * dm + m] * w[t][c * dm + m];
    dx[c] = acc;
  }
}

void weight_grad_pixel(std::int64_t taps, const float* const* x, float* const* dw, const float* dz, float* db,
                       std::int64_t channels, std::int64_t dm) {
  const std::int64_t cout = channels * dm;
  for (std::int64_t t = 0; t < taps; ++t) {
    const float* xt = x[t];
    float* d = dw[t];
    if (dm == 1) {
      std::int64_t o = 0;
      for (; o + 32 <= cout; o += 32) {
        _mm512_storeu_ps(d + o, _mm512_fmadd_ps(_mm512_loadu_ps(xt + o), _mm512_loadu_ps(dz + o),
                                                _mm512_loadu_ps(d + o)));
        _mm512_storeu_ps(d + o + 16, _mm512_fmadd_ps(_mm512_loadu_ps(xt + o + 16), _mm512_loadu_ps(dz + o + 16),
                                                    _mm512_loadu_ps(d + o + 16)));
      }
      for (; o < cout; ++o) d[o] += xt[o] * dz[o];
    } else {
      for (std::int64_t c = 0; c < channels; ++c) {
        const std::int64_t base = c * dm;
        const __m512 xv = _mm512_set1_ps(xt[c]);
        std::int64_t m = 0;
        for (; m + 16 <= dm; m += 16)
          _mm512_storeu_ps(d + base + m, _mm512_fmadd_ps(xv, _mm512_loadu_ps(dz + base + m),
                                                         _mm512_loadu_ps(d + base + m)));
        for (; m < dm; ++m) d[base + m] += xt[c] * dz[base + m];
      }
    }
  }
  if (db) {
    std::int64_t o = 0;
    for (; o + 16 <= cout; o += 16)
      _mm512_storeu_ps(db + o, _mm512_add_ps(_mm512_loadu_ps(db + o), _mm512_loadu_ps(dz + o)));
    for (; o < cout; ++o) db[o] += dz[o];
  }
}

constexpr DepthwiseKernels kAvx512Table = {&forward_pixel, &input_grad_pixel, &weight_grad_pixel};

}  // namespace

const DepthwiseKernels& depthwise_kernels_avx512() { return kAvx512Table; }

}  // namespace convlite

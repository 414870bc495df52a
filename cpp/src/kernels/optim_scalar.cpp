// Scalar optimizer kernels: Keras 3's update formulas with its operation order; these define the semantics.
#include <cmath>

#include "kernels/optim_kernels.hpp"

namespace convlite {
namespace {

void sgd(float* p, const float* g, float* vel, std::int64_t n, float lr, float momentum, bool nesterov) {
  if (!vel) {
    for (std::int64_t i = 0; i < n; ++i) p[i] = p[i] - g[i] * lr;
    return;
  }
  for (std::int64_t i = 0; i < n; ++i) {
    const float m = vel[i] * momentum - g[i] * lr;
    vel[i] = m;
    p[i] = nesterov ? p[i] + (m * momentum - g[i] * lr) : p[i] + m;
  }
}

void adam(float* p, const float* g, float* m, float* v, float* vh, std::int64_t n, float alpha, float omb1,
          float omb2, float eps) {
  for (std::int64_t i = 0; i < n; ++i) {
    const float gi = g[i];
    const float mi = m[i] + (gi - m[i]) * omb1;
    float vi = v[i] + (gi * gi - v[i]) * omb2;
    m[i] = mi;
    v[i] = vi;
    if (vh) {
      vi = vh[i] > vi ? vh[i] : vi;
      vh[i] = vi;
    }
    p[i] = p[i] - (mi * alpha) / (std::sqrt(vi) + eps);
  }
}

void rmsprop(float* p, const float* g, float* vel, float* mom, float* avg, std::int64_t n, float lr, float rho,
             float omr, float momentum, float eps) {
  for (std::int64_t i = 0; i < n; ++i) {
    const float gi = g[i];
    const float ve = rho * vel[i] + omr * (gi * gi);
    vel[i] = ve;
    float denominator;
    if (avg) {
      const float a = rho * avg[i] + omr * gi;
      avg[i] = a;
      denominator = (ve - a * a) + eps;
    } else {
      denominator = ve + eps;
    }
    const float increment = (lr * gi) / std::sqrt(denominator);
    if (mom) {
      const float mo = momentum * mom[i] + increment;
      mom[i] = mo;
      p[i] = p[i] - mo;
    } else {
      p[i] = p[i] - increment;
    }
  }
}

void weight_decay(float* p, std::int64_t n, float wd, float lr) {
  for (std::int64_t i = 0; i < n; ++i) p[i] = p[i] - (p[i] * wd) * lr;
}

double sum_of_squares(const float* x, std::int64_t n) {
  double l[16] = {0};
  for (std::int64_t i = 0; i < n; ++i) {
    const double d = x[i];
    l[i & 15] += d * d;
  }
  double t[4];
  for (int k = 0; k < 4; ++k) t[k] = (l[k] + l[8 + k]) + (l[4 + k] + l[12 + k]);
  return (t[0] + t[2]) + (t[1] + t[3]);
}

void scale(float* x, std::int64_t n, float f) {
  for (std::int64_t i = 0; i < n; ++i) x[i] = x[i] * f;
}

void clip(float* x, std::int64_t n, float low, float high) {
  for (std::int64_t i = 0; i < n; ++i) {
    const float t = low > x[i] ? low : x[i];
    x[i] = high < t ? high : t;
  }
}

constexpr OptimKernels kScalarTable = {&sgd, &adam, &rmsprop, &weight_decay, &sum_of_squares, &scale, &clip};

}  // namespace

const OptimKernels& optim_kernels_scalar() { return kScalarTable; }

}  // namespace convlite

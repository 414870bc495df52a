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

void adagrad(float* p, const float* g, float* acc, std::int64_t n, float lr, float eps) {
  for (std::int64_t i = 0; i < n; ++i) {
    const float gi = g[i];
    const float a = acc[i] + gi * gi;
    acc[i] = a;
    p[i] = p[i] - (lr * gi) / std::sqrt(a + eps);
  }
}

void adadelta(float* p, const float* g, float* ag, float* ad, std::int64_t n, float lr, float rho, float omr,
              float eps) {
  for (std::int64_t i = 0; i < n; ++i) {
    const float gi = g[i];
    const float a = rho * ag[i] + omr * (gi * gi);
    ag[i] = a;
    const float delta = -((std::sqrt(ad[i] + eps) * gi) / std::sqrt(a + eps));
    ad[i] = rho * ad[i] + omr * (delta * delta);
    p[i] = p[i] + lr * delta;
  }
}

void adamax(float* p, const float* g, float* m, float* u, std::int64_t n, float lr, float omb1, float beta_2,
            float bias, float eps) {
  for (std::int64_t i = 0; i < n; ++i) {
    const float gi = g[i];
    const float mi = m[i] + (gi - m[i]) * omb1;
    m[i] = mi;
    const float decayed = beta_2 * u[i], magnitude = std::fabs(gi);
    float ui = decayed > magnitude ? decayed : magnitude;
    if (decayed != decayed) ui = decayed;  // NaN from either side stays NaN
    u[i] = ui;
    p[i] = p[i] - (lr * mi) / (bias * (ui + eps));
  }
}

void nadam(float* p, const float* g, float* m, float* v, std::int64_t n, float lr, float omb1, float omb2,
           float u_next, float omup_next, float omu_now, float omup, float omb2p, float eps) {
  for (std::int64_t i = 0; i < n; ++i) {
    const float gi = g[i];
    const float mi = m[i] + (gi - m[i]) * omb1;
    const float vi = v[i] + (gi * gi - v[i]) * omb2;
    m[i] = mi;
    v[i] = vi;
    const float m_hat = (u_next * mi) / omup_next + (omu_now * gi) / omup;
    const float v_hat = vi / omb2p;
    p[i] = p[i] - (m_hat * lr) / (std::sqrt(v_hat) + eps);
  }
}

void lion(float* p, const float* g, float* m, std::int64_t n, float lr, float beta_1, float omb1, float beta_2,
          float omb2) {
  for (std::int64_t i = 0; i < n; ++i) {
    const float gi = g[i];
    const float c = m[i] * beta_1 + gi * omb1;
    // c > 0 ? 1 : c < 0 ? -1 : c (0 and NaN pass through), as one select: random signs defeat a branch.
    const float sign = std::fabs(c) > 0.0f ? std::copysign(1.0f, c) : c;
    p[i] = p[i] - lr * sign;
    m[i] = m[i] * beta_2 + gi * omb2;
  }
}

constexpr OptimKernels kScalarTable = {&sgd,   &adam,     &rmsprop, &weight_decay, &sum_of_squares, &scale,
                                       &clip,  &adagrad,  &adadelta, &adamax,      &nadam,          &lion};

}  // namespace

const OptimKernels& optim_kernels_scalar() { return kScalarTable; }

}  // namespace convlite

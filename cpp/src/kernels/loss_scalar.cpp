// Scalar loss kernels: Keras 3 / TensorFlow formulas, evaluated in double.
//
// Clipping: probabilities are clipped to [eps, 1 - eps] with eps = 1e-7 rounded to float32 (0.99999988 above), as
// tf.clip_by_value does, and the gradient passes only where eps <= p <= 1 - eps (TensorFlow's clip gradient).
// from_logits paths are the stable ones TensorFlow uses: max(x, 0) - x z + log1p(exp(-|x|)) for binary and
// log-sum-exp with the maximum subtracted for categorical; their gradients are sigmoid(x) - z and softmax(x) - t
// (TensorFlow's SoftmaxCrossEntropyWithLogits gradient, which assumes targets summing to one).
#include <cmath>

#include "kernels/loss_kernels.hpp"

namespace convlite {
namespace {

constexpr float kEpsilon = 1e-7f;
constexpr float kOneMinusEpsilon = 1.0f - 1e-7f;  // float32(1 - 1e-7), as Keras's clip bound becomes

double clip_prob(float p, bool* inside) {
  *inside = p >= kEpsilon && p <= kOneMinusEpsilon;  // NaN is outside: no gradient, the clipped value is NaN
  if (p < kEpsilon) return kEpsilon;
  if (p > kOneMinusEpsilon) return kOneMinusEpsilon;
  return p;
}

double binary_row(const LossParams& p, std::int64_t n, const float* pred, const float* target, double scale,
                  float* grad) {
  const double ls = p.label_smoothing;
  const double per = scale / static_cast<double>(n);
  double sum = 0.0;
  for (std::int64_t j = 0; j < n; ++j) {
    double z = target[j];
    if (ls != 0.0) z = z * (1.0 - ls) + 0.5 * ls;
    if (p.from_logits) {
      const double x = pred[j];
      sum += (x > 0.0 ? x : 0.0) - x * z + std::log1p(std::exp(-std::fabs(x)));
      if (grad) {
        const double sig = x >= 0.0 ? 1.0 / (1.0 + std::exp(-x)) : std::exp(x) / (1.0 + std::exp(x));
        grad[j] = static_cast<float>((sig - z) * per);
      }
    } else {
      bool inside;
      const double o = clip_prob(pred[j], &inside);
      sum -= z * std::log(o) + (1.0 - z) * std::log(1.0 - o);
      if (grad) grad[j] = inside ? static_cast<float>((-z / o + (1.0 - z) / (1.0 - o)) * per) : 0.0f;
    }
  }
  return sum / static_cast<double>(n);
}

// Targets after Keras's categorical label smoothing: t (1 - ls) + ls / classes.
double smoothed(const LossParams& p, float t, std::int64_t classes) {
  const double ls = p.label_smoothing;
  return ls != 0.0 ? t * (1.0 - ls) + ls / static_cast<double>(classes) : t;
}

double categorical_row(const LossParams& p, std::int64_t n, const float* pred, const float* target, double scale,
                       float* grad) {
  double loss = 0.0;
  if (p.from_logits) {
    double mx = -INFINITY;
    for (std::int64_t j = 0; j < n; ++j) mx = pred[j] > mx ? pred[j] : mx;
    double se = 0.0;
    for (std::int64_t j = 0; j < n; ++j) se += std::exp(pred[j] - mx);
    const double lse = mx + std::log(se);
    for (std::int64_t j = 0; j < n; ++j) loss += smoothed(p, target[j], n) * (lse - pred[j]);
    if (grad)
      for (std::int64_t j = 0; j < n; ++j)
        grad[j] = static_cast<float>((std::exp(pred[j] - mx) / se - smoothed(p, target[j], n)) * scale);
    return loss;
  }
  // Probabilities: Keras first renormalises each row to sum to one, then clips, then -sum t log(o).
  double s = 0.0;
  for (std::int64_t j = 0; j < n; ++j) s += pred[j];
  double weighted_g = 0.0;  // sum_j g_j o_j, for the renormalisation's chain rule
  for (std::int64_t j = 0; j < n; ++j) {
    const double o_raw = pred[j] / s;
    bool inside;
    const double o = clip_prob(static_cast<float>(o_raw), &inside);
    const double t = smoothed(p, target[j], n);
    loss -= t * std::log(o);
    const double g = inside ? -t / o : 0.0;
    weighted_g += g * o_raw;
    if (grad) grad[j] = static_cast<float>(g);  // dL/do_j for now
  }
  if (grad)
    for (std::int64_t j = 0; j < n; ++j) grad[j] = static_cast<float>((grad[j] - weighted_g) / s * scale);
  return loss;
}

double sparse_row(const LossParams& p, std::int64_t n, const float* pred, const float* target, double scale,
                  float* grad) {
  const std::int64_t label = static_cast<std::int64_t>(*target);
  if (p.from_logits) {
    double mx = -INFINITY;
    for (std::int64_t j = 0; j < n; ++j) mx = pred[j] > mx ? pred[j] : mx;
    double se = 0.0;
    for (std::int64_t j = 0; j < n; ++j) se += std::exp(pred[j] - mx);
    if (grad)
      for (std::int64_t j = 0; j < n; ++j)
        grad[j] = static_cast<float>((std::exp(pred[j] - mx) / se - (j == label ? 1.0 : 0.0)) * scale);
    return mx + std::log(se) - pred[label];
  }
  // Keras clips, takes the log and feeds it to sparse softmax cross-entropy: log(sum c) - log(c_label).
  double s = 0.0;
  for (std::int64_t j = 0; j < n; ++j) {
    bool inside;
    s += clip_prob(pred[j], &inside);
  }
  bool label_inside;
  const double c_label = clip_prob(pred[label], &label_inside);
  if (grad)
    for (std::int64_t j = 0; j < n; ++j) {
      bool inside;
      const double c = clip_prob(pred[j], &inside);
      const double g = 1.0 / s - (j == label ? 1.0 / c : 0.0);
      grad[j] = inside ? static_cast<float>(g * scale) : 0.0f;
    }
  return std::log(s) - std::log(c_label);
}

double regression_row(const LossParams& p, std::int64_t n, const float* pred, const float* target, double scale,
                      float* grad) {
  const double per = scale / static_cast<double>(n);
  const double delta = p.huber_delta;
  double sum = 0.0;
  for (std::int64_t j = 0; j < n; ++j) {
    const double e = static_cast<double>(pred[j]) - static_cast<double>(target[j]);
    const double a = std::fabs(e);
    const double sign = e > 0.0 ? 1.0 : (e < 0.0 ? -1.0 : 0.0);
    double g;
    switch (p.kind) {
      case LossKind::mse: sum += e * e; g = 2.0 * e; break;
      case LossKind::mae: sum += a; g = sign; break;
      default:  // huber: quadratic inside |e| <= delta, linear outside
        if (a <= delta) {
          sum += 0.5 * e * e;
          g = e;
        } else {
          sum += delta * a - 0.5 * delta * delta;
          g = delta * sign;
        }
    }
    if (grad) grad[j] = static_cast<float>(g * per);
  }
  return sum / static_cast<double>(n);
}

double loss_row(const LossParams& p, std::int64_t n, const float* pred, const float* target, double scale,
                float* grad) {
  switch (p.kind) {
    case LossKind::binary_crossentropy: return binary_row(p, n, pred, target, scale, grad);
    case LossKind::categorical_crossentropy: return categorical_row(p, n, pred, target, scale, grad);
    case LossKind::sparse_categorical_crossentropy: return sparse_row(p, n, pred, target, scale, grad);
    default: return regression_row(p, n, pred, target, scale, grad);
  }
}

constexpr LossKernels kScalarTable = {&loss_row};

}  // namespace

const LossKernels& loss_kernels_scalar() { return kScalarTable; }

}  // namespace convlite

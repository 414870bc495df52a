// TEMPORARY (model branch only): naive scalar stand-ins for op-API functions whose real implementations live on
// other branches (conv, ops, train) and have not been merged yet. Each definition is deleted as soon as the real
// one arrives by merge (duplicate symbols say which). Nothing here is tuned or meant to ship.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "convlite/activation.hpp"
#include "convlite/conv.hpp"
#include "convlite/pool.hpp"
#include "convlite/train.hpp"

namespace convlite {
namespace {
using i64 = std::int64_t;
float act_fwd(const Epilogue& e, float v) {
  if (e.activation == FusedActivation::relu) return v > 0 ? v : 0;
  if (e.activation == FusedActivation::leaky_relu) return v > 0 ? v : v * e.negative_slope;
  return v;
}
float act_mask(const Epilogue& e, float y) {
  if (e.activation == FusedActivation::relu) return y > 0 ? 1.f : 0.f;
  if (e.activation == FusedActivation::leaky_relu) return y > 0 ? 1.f : e.negative_slope;
  return 1.f;
}
// Generic grouped/depthwise conv: output channel o of group g reads input channels [g*cpg, (g+1)*cpg).
template <class W>
void conv_fwd(const Conv2dShape& s, const float* x, W wat, const float* bias, float* y, const Epilogue& e) {
  const i64 cpg = s.in_c / s.groups, fpg = s.out_c / s.groups;
  for (i64 b = 0; b < s.batch; ++b)
    for (i64 oh = 0; oh < s.out_h; ++oh)
      for (i64 ow = 0; ow < s.out_w; ++ow)
        for (i64 o = 0; o < s.out_c; ++o) {
          const i64 g = o / fpg;
          double acc = bias ? bias[o] : 0.0;
          for (i64 kh = 0; kh < s.kernel_h; ++kh) {
            const i64 ih = oh * s.stride_h + kh * s.dilation_h - s.pad_top;
            if (ih < 0 || ih >= s.in_h) continue;
            for (i64 kw = 0; kw < s.kernel_w; ++kw) {
              const i64 iw = ow * s.stride_w + kw * s.dilation_w - s.pad_left;
              if (iw < 0 || iw >= s.in_w) continue;
              const float* xp = x + ((b * s.in_h + ih) * s.in_w + iw) * s.in_c + g * cpg;
              for (i64 c = 0; c < cpg; ++c) acc += double(xp[c]) * wat(kh, kw, c, o);
            }
          }
          y[((b * s.out_h + oh) * s.out_w + ow) * s.out_c + o] = act_fwd(e, float(acc));
        }
}
template <class WIdx>
void conv_bwd(const Conv2dShape& s, const float* x, const float* w, const float* y, const float* dy, float* dx,
              float* dw, float* db, const Epilogue& e, i64 wsize, WIdx widx) {
  const i64 cpg = s.in_c / s.groups, fpg = s.out_c / s.groups;
  if (dx) std::fill(dx, dx + s.batch * s.in_h * s.in_w * s.in_c, 0.f);
  std::vector<double> dwd(wsize, 0.0), dbd(s.out_c, 0.0);
  for (i64 b = 0; b < s.batch; ++b)
    for (i64 oh = 0; oh < s.out_h; ++oh)
      for (i64 ow = 0; ow < s.out_w; ++ow)
        for (i64 o = 0; o < s.out_c; ++o) {
          const i64 yi = ((b * s.out_h + oh) * s.out_w + ow) * s.out_c + o;
          const float g = dy[yi] * act_mask(e, y[yi]);
          dbd[o] += g;
          const i64 grp = o / fpg;
          for (i64 kh = 0; kh < s.kernel_h; ++kh) {
            const i64 ih = oh * s.stride_h + kh * s.dilation_h - s.pad_top;
            if (ih < 0 || ih >= s.in_h) continue;
            for (i64 kw = 0; kw < s.kernel_w; ++kw) {
              const i64 iw = ow * s.stride_w + kw * s.dilation_w - s.pad_left;
              if (iw < 0 || iw >= s.in_w) continue;
              const i64 xi = ((b * s.in_h + ih) * s.in_w + iw) * s.in_c + grp * cpg;
              for (i64 c = 0; c < cpg; ++c) {
                const i64 wi = widx(kh, kw, c, o);
                dwd[wi] += double(x[xi + c]) * g;
                if (dx) dx[xi + c] += w[wi] * g;
              }
            }
          }
        }
  if (dw) for (i64 i = 0; i < wsize; ++i) dw[i] = float(dwd[i]);
  if (db) for (i64 o = 0; o < s.out_c; ++o) db[o] = float(dbd[o]);
}
}  // namespace

void conv2d_forward(const Conv2dShape& s, const float* x, const float* w, const float* bias, float* y,
                    const Epilogue& e) {
  const i64 cpg = s.in_c / s.groups;
  conv_fwd(s, x, [&](i64 kh, i64 kw, i64 c, i64 o) { return w[((kh * s.kernel_w + kw) * cpg + c) * s.out_c + o]; },
           bias, y, e);
}
void conv2d_backward(const Conv2dShape& s, const float* x, const float* w, const float* y, const float* dy,
                     float* dx, float* dw, float* db, const Epilogue& e) {
  const i64 cpg = s.in_c / s.groups;
  conv_bwd(s, x, w, y, dy, dx, dw, db, e, s.kernel_h * s.kernel_w * cpg * s.out_c,
           [&](i64 kh, i64 kw, i64 c, i64 o) { return ((kh * s.kernel_w + kw) * cpg + c) * s.out_c + o; });
}
void depthwise2d_forward(const Conv2dShape& s, const float* x, const float* w, const float* bias, float* y,
                         const Epilogue& e) {
  const i64 dm = s.out_c / s.in_c;
  conv_fwd(s, x, [&](i64 kh, i64 kw, i64, i64 o) { return w[(kh * s.kernel_w + kw) * s.out_c + o]; }, bias, y, e);
  (void)dm;
}
void depthwise2d_backward(const Conv2dShape& s, const float* x, const float* w, const float* y, const float* dy,
                          float* dx, float* dw, float* db, const Epilogue& e) {
  conv_bwd(s, x, w, y, dy, dx, dw, db, e, s.kernel_h * s.kernel_w * s.out_c,
           [&](i64 kh, i64 kw, i64, i64 o) { return (kh * s.kernel_w + kw) * s.out_c + o; });
}
void dense_forward(i64 batch, i64 in, i64 units, const float* x, const float* w, const float* bias, float* y,
                   const Epilogue& e) {
  Conv2dShape s;
  s.batch = batch, s.in_c = in, s.out_c = units;
  conv2d_forward(s, x, w, bias, y, e);
}
void dense_backward(i64 batch, i64 in, i64 units, const float* x, const float* w, const float* y, const float* dy,
                    float* dx, float* dw, float* db, const Epilogue& e) {
  Conv2dShape s;
  s.batch = batch, s.in_c = in, s.out_c = units;
  conv2d_backward(s, x, w, y, dy, dx, dw, db, e);
}

void max_pool2d_forward(const Pool2dShape& s, const float* x, float* y, std::int32_t* argmax) {
  for (i64 b = 0; b < s.batch; ++b)
    for (i64 oh = 0; oh < s.out_h; ++oh)
      for (i64 ow = 0; ow < s.out_w; ++ow)
        for (i64 c = 0; c < s.channels; ++c) {
          float best = -std::numeric_limits<float>::infinity();
          i64 arg = -1;
          for (i64 ph = 0; ph < s.pool_h; ++ph)
            for (i64 pw = 0; pw < s.pool_w; ++pw) {
              const i64 ih = oh * s.stride_h + ph - s.pad_top, iw = ow * s.stride_w + pw - s.pad_left;
              if (ih < 0 || iw < 0 || ih >= s.in_h || iw >= s.in_w) continue;
              const float v = x[((b * s.in_h + ih) * s.in_w + iw) * s.channels + c];
              if (arg < 0 || v > best) best = v, arg = ih * s.in_w + iw;
            }
          const i64 yi = ((b * s.out_h + oh) * s.out_w + ow) * s.channels + c;
          y[yi] = best;
          if (argmax) argmax[yi] = std::int32_t(arg);
        }
}
void max_pool2d_backward(const Pool2dShape& s, const std::int32_t* argmax, const float* dy, float* dx) {
  std::fill(dx, dx + s.batch * s.in_h * s.in_w * s.channels, 0.f);
  for (i64 b = 0; b < s.batch; ++b)
    for (i64 o = 0; o < s.out_h * s.out_w; ++o)
      for (i64 c = 0; c < s.channels; ++c) {
        const i64 yi = (b * s.out_h * s.out_w + o) * s.channels + c;
        dx[(b * s.in_h * s.in_w + argmax[yi]) * s.channels + c] += dy[yi];
      }
}
void avg_pool2d_forward(const Pool2dShape& s, const float* x, float* y) {
  for (i64 b = 0; b < s.batch; ++b)
    for (i64 oh = 0; oh < s.out_h; ++oh)
      for (i64 ow = 0; ow < s.out_w; ++ow)
        for (i64 c = 0; c < s.channels; ++c) {
          float sum = 0;
          i64 n = 0;
          for (i64 ph = 0; ph < s.pool_h; ++ph)
            for (i64 pw = 0; pw < s.pool_w; ++pw) {
              const i64 ih = oh * s.stride_h + ph - s.pad_top, iw = ow * s.stride_w + pw - s.pad_left;
              if (ih < 0 || iw < 0 || ih >= s.in_h || iw >= s.in_w) continue;
              sum += x[((b * s.in_h + ih) * s.in_w + iw) * s.channels + c], ++n;
            }
          y[((b * s.out_h + oh) * s.out_w + ow) * s.channels + c] = sum / float(n);
        }
}
void avg_pool2d_backward(const Pool2dShape& s, const float* dy, float* dx) {
  std::fill(dx, dx + s.batch * s.in_h * s.in_w * s.channels, 0.f);
  for (i64 b = 0; b < s.batch; ++b)
    for (i64 oh = 0; oh < s.out_h; ++oh)
      for (i64 ow = 0; ow < s.out_w; ++ow)
        for (i64 c = 0; c < s.channels; ++c) {
          i64 n = 0;
          for (int pass = 0; pass < 2; ++pass)
            for (i64 ph = 0; ph < s.pool_h; ++ph)
              for (i64 pw = 0; pw < s.pool_w; ++pw) {
                const i64 ih = oh * s.stride_h + ph - s.pad_top, iw = ow * s.stride_w + pw - s.pad_left;
                if (ih < 0 || iw < 0 || ih >= s.in_h || iw >= s.in_w) continue;
                if (pass == 0) ++n;
                else dx[((b * s.in_h + ih) * s.in_w + iw) * s.channels + c] +=
                    dy[((b * s.out_h + oh) * s.out_w + ow) * s.channels + c] / float(n);
              }
        }
}
void global_avg_pool_forward(i64 batch, i64 spatial, i64 channels, const float* x, float* y) {
  for (i64 b = 0; b < batch; ++b)
    for (i64 c = 0; c < channels; ++c) {
      float sum = 0;
      for (i64 p = 0; p < spatial; ++p) sum += x[(b * spatial + p) * channels + c];
      y[b * channels + c] = sum / float(spatial);
    }
}
void global_avg_pool_backward(i64 batch, i64 spatial, i64 channels, const float* dy, float* dx) {
  for (i64 b = 0; b < batch; ++b)
    for (i64 p = 0; p < spatial; ++p)
      for (i64 c = 0; c < channels; ++c) dx[(b * spatial + p) * channels + c] = dy[b * channels + c] / float(spatial);
}
void global_max_pool_forward(i64 batch, i64 spatial, i64 channels, const float* x, float* y, std::int32_t* argmax) {
  for (i64 b = 0; b < batch; ++b)
    for (i64 c = 0; c < channels; ++c) {
      i64 arg = 0;
      for (i64 p = 1; p < spatial; ++p)
        if (x[(b * spatial + p) * channels + c] > x[(b * spatial + arg) * channels + c]) arg = p;
      y[b * channels + c] = x[(b * spatial + arg) * channels + c];
      if (argmax) argmax[b * channels + c] = std::int32_t(arg);
    }
}
void global_max_pool_backward(i64 batch, i64 spatial, i64 channels, const std::int32_t* argmax, const float* dy,
                              float* dx) {
  std::fill(dx, dx + batch * spatial * channels, 0.f);
  for (i64 b = 0; b < batch; ++b)
    for (i64 c = 0; c < channels; ++c) dx[(b * spatial + argmax[b * channels + c]) * channels + c] = dy[b * channels + c];
}

// Activations: the kinds the first models need.
void activation_forward(const ActivationParams& p, const float* x, float* y, i64 n, i64 last_dim) {
  if (p.kind == ActivationKind::softmax) {
    for (i64 r = 0; r < n / last_dim; ++r) {
      const float* xr = x + r * last_dim;
      float* yr = y + r * last_dim;
      const float m = *std::max_element(xr, xr + last_dim);
      float sum = 0;
      for (i64 j = 0; j < last_dim; ++j) sum += (yr[j] = std::exp(xr[j] - m));
      for (i64 j = 0; j < last_dim; ++j) yr[j] /= sum;
    }
    return;
  }
  for (i64 i = 0; i < n; ++i) {
    const float v = x[i];
    switch (p.kind) {
      case ActivationKind::relu: y[i] = v > 0 ? v : 0; break;
      case ActivationKind::leaky_relu: y[i] = v > 0 ? v : p.alpha * v; break;
      case ActivationKind::sigmoid: y[i] = 1.f / (1.f + std::exp(-v)); break;
      case ActivationKind::tanh: y[i] = std::tanh(v); break;
      case ActivationKind::elu: y[i] = v > 0 ? v : p.alpha * std::expm1(v); break;
      default: y[i] = v;
    }
  }
}
void activation_backward(const ActivationParams& p, const float* x, const float* y, const float* dy, float* dx, i64 n,
                         i64 last_dim) {
  if (p.kind == ActivationKind::softmax) {
    for (i64 r = 0; r < n / last_dim; ++r) {
      const float *yr = y + r * last_dim, *dr = dy + r * last_dim;
      float dot = 0;
      for (i64 j = 0; j < last_dim; ++j) dot += yr[j] * dr[j];
      for (i64 j = 0; j < last_dim; ++j) dx[r * last_dim + j] = yr[j] * (dr[j] - dot);
    }
    return;
  }
  for (i64 i = 0; i < n; ++i) {
    float d = 1;
    switch (p.kind) {
      case ActivationKind::relu: d = x[i] > 0 ? 1.f : 0.f; break;
      case ActivationKind::leaky_relu: d = x[i] > 0 ? 1.f : p.alpha; break;
      case ActivationKind::sigmoid: d = y[i] * (1 - y[i]); break;
      case ActivationKind::tanh: d = 1 - y[i] * y[i]; break;
      case ActivationKind::elu: d = x[i] > 0 ? 1.f : y[i] + p.alpha; break;
      default: break;
    }
    dx[i] = dy[i] * d;
  }
}

double loss_forward_backward(const LossParams& p, i64 batch, i64 features, const float* pred, const float* target,
                             const float* sw, float* grad) {
  const double eps = 1e-7;
  double total = 0;
  for (i64 b = 0; b < batch; ++b) {
    const double w = sw ? sw[b] : 1.0;
    const float* pr = pred + b * features;
    float* g = grad ? grad + b * features : nullptr;
    double l = 0;
    if (p.kind == LossKind::mse || p.kind == LossKind::mae || p.kind == LossKind::binary_crossentropy) {
      for (i64 j = 0; j < features; ++j) {
        const double t = target[b * features + j], z = pr[j];
        double dl;
        if (p.kind == LossKind::mse) l += (z - t) * (z - t), dl = 2 * (z - t);
        else if (p.kind == LossKind::mae) l += std::fabs(z - t), dl = z > t ? 1 : (z < t ? -1 : 0);
        else if (p.from_logits) {
          l += std::max(z, 0.0) - z * t + std::log1p(std::exp(-std::fabs(z)));
          dl = 1 / (1 + std::exp(-z)) - t;
        } else {
          const double q = std::min(std::max(z, eps), 1 - eps);
          l += -(t * std::log(q + eps) + (1 - t) * std::log(1 - q + eps));
          dl = (z > eps && z < 1 - eps) ? -(t / (q + eps)) + (1 - t) / (1 - q + eps) : 0;
        }
        if (g) g[j] = float(w * dl / features / batch);
      }
      l /= features;
    } else {  // categorical / sparse, probabilities or logits
      std::vector<double> t(features, 0.0);
      if (p.kind == LossKind::sparse_categorical_crossentropy) t[i64(target[b])] = 1;
      else for (i64 j = 0; j < features; ++j) t[j] = target[b * features + j];
      if (p.from_logits) {
        const double m = *std::max_element(pr, pr + features);
        double s = 0;
        for (i64 j = 0; j < features; ++j) s += std::exp(pr[j] - m);
        for (i64 j = 0; j < features; ++j) {
          const double logp = pr[j] - m - std::log(s);
          l -= t[j] * logp;
          if (g) g[j] = float(w * (std::exp(logp) - t[j]) / batch);
        }
      } else {
        double s = 0;
        for (i64 j = 0; j < features; ++j) s += pr[j];
        for (i64 j = 0; j < features; ++j) {
          const double q = std::min(std::max(pr[j] / s, eps), 1 - eps);
          l -= t[j] * std::log(q);
          if (g) g[j] = float(w * (-t[j] / q) / s / batch);  // approximate (ignores renormalisation)
        }
      }
    }
    total += w * l;
  }
  return total / batch;
}

void sgd_update(float* param, const float* grad, float* velocity, i64 n, float lr, float momentum, bool nesterov) {
  for (i64 i = 0; i < n; ++i) {
    if (!velocity) { param[i] -= lr * grad[i]; continue; }
    velocity[i] = momentum * velocity[i] - lr * grad[i];
    param[i] += nesterov ? momentum * velocity[i] - lr * grad[i] : velocity[i];
  }
}
void adam_update(float* param, const float* grad, float* m, float* v, float* v_hat, i64 n, float lr, float b1,
                 float b2, float eps, i64 step) {
  const float alpha = lr * std::sqrt(1 - std::pow(b2, float(step))) / (1 - std::pow(b1, float(step)));
  for (i64 i = 0; i < n; ++i) {
    m[i] += (grad[i] - m[i]) * (1 - b1);
    v[i] += (grad[i] * grad[i] - v[i]) * (1 - b2);
    float vv = v[i];
    if (v_hat) vv = v_hat[i] = std::max(v_hat[i], v[i]);
    param[i] -= m[i] * alpha / (std::sqrt(vv) + eps);
  }
}
void rmsprop_update(float* param, const float* grad, float* velocity, float* mom, float* avg, i64 n, float lr,
                    float rho, float momentum, float eps) {
  for (i64 i = 0; i < n; ++i) {
    velocity[i] = rho * velocity[i] + (1 - rho) * grad[i] * grad[i];
    float denom = velocity[i];
    if (avg) avg[i] = rho * avg[i] + (1 - rho) * grad[i], denom = velocity[i] - avg[i] * avg[i];
    const float inc = lr * grad[i] / std::sqrt(denom + eps);
    if (mom) mom[i] = momentum * mom[i] + inc, param[i] -= mom[i];
    else param[i] -= inc;
  }
}
void apply_weight_decay(float* param, i64 n, float lr, float wd) {
  for (i64 i = 0; i < n; ++i) param[i] -= param[i] * wd * lr;
}
double sum_of_squares(const float* x, i64 n) {
  double s = 0;
  for (i64 i = 0; i < n; ++i) s += double(x[i]) * x[i];
  return s;
}
void scale_in_place(float* x, i64 n, float f) { for (i64 i = 0; i < n; ++i) x[i] *= f; }
void clip_in_place(float* x, i64 n, float lo, float hi) { for (i64 i = 0; i < n; ++i) x[i] = std::min(std::max(x[i], lo), hi); }

namespace {
float uniform01(std::uint64_t seed, std::uint64_t i) {
  std::uint64_t z = seed + 0x9E3779B97F4A7C15ull * (i + 1);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  z ^= z >> 31;
  return float(z >> 40) * (1.0f / 16777216.0f);
}
}  // namespace
void dropout_forward(i64 n, float rate, std::uint64_t seed, std::uint64_t offset, const float* x, float* y,
                     std::uint8_t* mask) {
  const float scale = 1.f / (1.f - rate);
  for (i64 i = 0; i < n; ++i) {
    const bool keep = uniform01(seed, offset + i) >= rate;
    if (mask) mask[i] = keep;
    y[i] = keep ? x[i] * scale : 0.f;
  }
}
void spatial_dropout_forward(i64 batch, i64 spatial, i64 channels, float rate, std::uint64_t seed,
                             std::uint64_t offset, const float* x, float* y, std::uint8_t* mask) {
  const float scale = 1.f / (1.f - rate);
  for (i64 b = 0; b < batch; ++b)
    for (i64 c = 0; c < channels; ++c) {
      const bool keep = uniform01(seed, offset + b * channels + c) >= rate;
      if (mask) mask[b * channels + c] = keep;
      for (i64 p = 0; p < spatial; ++p) {
        const i64 i = (b * spatial + p) * channels + c;
        y[i] = keep ? x[i] * scale : 0.f;
      }
    }
}
void dropout_backward(i64 n, float rate, const std::uint8_t* mask, const float* dy, float* dx) {
  for (i64 i = 0; i < n; ++i) dx[i] = mask[i] ? dy[i] / (1.f - rate) : 0.f;
}
void spatial_dropout_backward(i64 batch, i64 spatial, i64 channels, float rate, const std::uint8_t* mask,
                              const float* dy, float* dx) {
  for (i64 b = 0; b < batch; ++b)
    for (i64 p = 0; p < spatial; ++p)
      for (i64 c = 0; c < channels; ++c) {
        const i64 i = (b * spatial + p) * channels + c;
        dx[i] = mask[b * channels + c] ? dy[i] / (1.f - rate) : 0.f;
      }
}

void batch_norm_forward_training(i64 rows, i64 ch, const float* x, const float* gamma, const float* beta,
                                 float* mm, float* mv, float momentum, float eps, float* y, float* mean_out,
                                 float* inv_out) {
  for (i64 c = 0; c < ch; ++c) {
    double s = 0, s2 = 0;
    for (i64 r = 0; r < rows; ++r) s += x[r * ch + c];
    const double mean = s / rows;
    for (i64 r = 0; r < rows; ++r) s2 += (x[r * ch + c] - mean) * (x[r * ch + c] - mean);
    const double var = s2 / rows, inv = 1 / std::sqrt(var + eps);
    for (i64 r = 0; r < rows; ++r)
      y[r * ch + c] = float((x[r * ch + c] - mean) * inv * (gamma ? gamma[c] : 1) + (beta ? beta[c] : 0));
    mm[c] = float(mm[c] * momentum + mean * (1 - momentum));
    mv[c] = float(mv[c] * momentum + var * (1 - momentum));
    mean_out[c] = float(mean), inv_out[c] = float(inv);
  }
}
void batch_norm_forward_inference(i64 rows, i64 ch, const float* x, const float* gamma, const float* beta,
                                  const float* mm, const float* mv, float eps, float* y) {
  for (i64 r = 0; r < rows; ++r)
    for (i64 c = 0; c < ch; ++c)
      y[r * ch + c] = (x[r * ch + c] - mm[c]) / std::sqrt(mv[c] + eps) * (gamma ? gamma[c] : 1) + (beta ? beta[c] : 0);
}
void batch_norm_backward(i64 rows, i64 ch, const float* x, const float* gamma, const float* mean, const float* inv,
                         const float* dy, float* dx, float* dgamma, float* dbeta) {
  for (i64 c = 0; c < ch; ++c) {
    double sdy = 0, sdyx = 0;
    for (i64 r = 0; r < rows; ++r) sdy += dy[r * ch + c], sdyx += dy[r * ch + c] * (x[r * ch + c] - mean[c]) * inv[c];
    if (dgamma) dgamma[c] = float(sdyx);
    if (dbeta) dbeta[c] = float(sdy);
    const double g = gamma ? gamma[c] : 1;
    if (dx)
      for (i64 r = 0; r < rows; ++r) {
        const double xh = (x[r * ch + c] - mean[c]) * inv[c];
        dx[r * ch + c] = float(g * inv[c] * (dy[r * ch + c] - sdy / rows - xh * sdyx / rows));
      }
  }
}

void zero_pad2d_forward(i64 batch, i64 h, i64 w, i64 c, i64 t, i64 bo, i64 l, i64 r, const float* x, float* y) {
  const i64 oh = h + t + bo, ow = w + l + r;
  std::fill(y, y + batch * oh * ow * c, 0.f);
  for (i64 b = 0; b < batch; ++b)
    for (i64 i = 0; i < h; ++i)
      std::memcpy(y + ((b * oh + i + t) * ow + l) * c, x + (b * h + i) * w * c, sizeof(float) * w * c);
}
void zero_pad2d_backward(i64 batch, i64 h, i64 w, i64 c, i64 t, i64 bo, i64 l, i64 r, const float* dy, float* dx) {
  const i64 oh = h + t + bo, ow = w + l + r;
  for (i64 b = 0; b < batch; ++b)
    for (i64 i = 0; i < h; ++i)
      std::memcpy(dx + (b * h + i) * w * c, dy + ((b * oh + i + t) * ow + l) * c, sizeof(float) * w * c);
}
void upsample2d_forward(i64 batch, i64 h, i64 w, i64 c, i64 sh, i64 sw, const float* x, float* y) {
  for (i64 b = 0; b < batch; ++b)
    for (i64 i = 0; i < h * sh; ++i)
      for (i64 j = 0; j < w * sw; ++j)
        std::memcpy(y + ((b * h * sh + i) * w * sw + j) * c, x + ((b * h + i / sh) * w + j / sw) * c, sizeof(float) * c);
}
void upsample2d_backward(i64 batch, i64 h, i64 w, i64 c, i64 sh, i64 sw, const float* dy, float* dx) {
  std::fill(dx, dx + batch * h * w * c, 0.f);
  for (i64 b = 0; b < batch; ++b)
    for (i64 i = 0; i < h * sh; ++i)
      for (i64 j = 0; j < w * sw; ++j)
        for (i64 k = 0; k < c; ++k)
          dx[((b * h + i / sh) * w + j / sw) * c + k] += dy[((b * h * sh + i) * w * sw + j) * c + k];
}

}  // namespace convlite

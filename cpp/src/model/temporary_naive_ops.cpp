// TEMPORARY (model branch only): naive scalar stand-ins for dropout and batch normalization, whose real
// implementations are committed on the train branch but not yet merged into main. Delete this file when they are
// (duplicate symbols will say so). Nothing here is tuned or meant to ship.
#include <cmath>
#include <cstdint>

#include "convlite/train.hpp"

namespace convlite {
using i64 = std::int64_t;
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
                                 float* mm, float* mv, double momentum, float eps, float* y, float* mean_out,
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

}  // namespace convlite

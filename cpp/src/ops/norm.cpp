// Batch-normalization drivers (channels_last). Per-channel sums run over fixed row blocks (their size depends only
// on the shape) in parallel; block partials are added in block order, so statistics and gradients are
// bit-identical for any thread count. Formulas follow Keras / tf.nn.batch_normalization:
// y = x * a + (beta - mean * a) with a = gamma * rsqrt(var + eps); the moving statistics update as
// moving * momentum + batch * (1 - momentum); the backward includes the batch statistics' dependence on x.
#include <cmath>
#include <vector>

#include "convlite/dispatch.hpp"
#include "convlite/parallel.hpp"
#include "convlite/train.hpp"
#include "kernels/norm_kernels.hpp"

namespace convlite {
namespace {

const NormKernels& kernels() {
  switch (active_isa()) {
#if defined(CONVLITE_HAVE_AVX512)
    case Isa::avx512: return norm_kernels_avx512();
#endif
#if defined(CONVLITE_HAVE_AVX2)
    case Isa::avx2: return norm_kernels_avx2();
#endif
    default: return norm_kernels_scalar();
  }
}

std::int64_t block_rows(std::int64_t channels) {
  const std::int64_t rows = (16384 + channels - 1) / channels;
  return rows < 16 ? 16 : rows;
}

// Per-channel totals of `count` accumulators, each block's kernel(r0, r1, acc...) writing into zeroed partials.
template <class Kernel>
void reduce_over_rows(std::int64_t rows, std::int64_t channels, int count, double* totals, Kernel&& kernel) {
  const std::int64_t per_block = block_rows(channels);
  const std::int64_t blocks = (rows + per_block - 1) / per_block;
  const std::int64_t stride = count * channels;
  std::vector<double> partial(static_cast<size_t>(blocks * stride), 0.0);
  parallel_for(blocks, 8.0 * static_cast<double>(per_block * channels), [&](std::int64_t b0, std::int64_t b1) {
    for (std::int64_t b = b0; b < b1; ++b) {
      const std::int64_t r0 = b * per_block, r1 = r0 + per_block < rows ? r0 + per_block : rows;
      kernel(r0, r1, partial.data() + b * stride);
    }
  });
  for (std::int64_t i = 0; i < stride; ++i) totals[i] = 0.0;
  for (std::int64_t b = 0; b < blocks; ++b)
    for (std::int64_t i = 0; i < stride; ++i) totals[i] += partial[b * stride + i];
}

void scale_shift_rows(std::int64_t rows, std::int64_t channels, const float* x, const float* scale,
                      const float* shift, float* y) {
  const auto& k = kernels();
  const std::int64_t per_block = block_rows(channels);
  const std::int64_t blocks = (rows + per_block - 1) / per_block;
  parallel_for(blocks, 8.0 * static_cast<double>(per_block * channels), [&](std::int64_t b0, std::int64_t b1) {
    const std::int64_t r0 = b0 * per_block, r1 = b1 * per_block < rows ? b1 * per_block : rows;
    k.scale_shift(r1 - r0, channels, x + r0 * channels, scale, shift, y + r0 * channels);
  });
}

float inverse_std(float variance, float epsilon) {
  return static_cast<float>(1.0 / std::sqrt(static_cast<double>(variance + epsilon)));
}

}  // namespace

void batch_norm_forward_training(std::int64_t rows, std::int64_t channels, const float* x, const float* gamma,
                                 const float* beta, float* moving_mean, float* moving_var, double momentum,
                                 float epsilon, float* y, float* saved_mean, float* saved_inv_std) {
  if (rows <= 0 || channels <= 0) return;
  const auto& k = kernels();
  std::vector<double> mean(static_cast<size_t>(channels)), var(static_cast<size_t>(channels));
  reduce_over_rows(rows, channels, 1, mean.data(), [&](std::int64_t r0, std::int64_t r1, double* acc) {
    k.sum_rows(r1 - r0, channels, x + r0 * channels, acc);
  });
  for (auto& m : mean) m /= static_cast<double>(rows);
  reduce_over_rows(rows, channels, 1, var.data(), [&](std::int64_t r0, std::int64_t r1, double* acc) {
    k.sum_squared_deviation(r1 - r0, channels, x + r0 * channels, mean.data(), acc);
  });
  std::vector<float> scale(static_cast<size_t>(channels)), shift(static_cast<size_t>(channels));
  const float keep = static_cast<float>(momentum), take = static_cast<float>(1.0 - momentum);
  for (std::int64_t c = 0; c < channels; ++c) {
    const float m = static_cast<float>(mean[c]);
    const float v = static_cast<float>(var[c] / static_cast<double>(rows));
    const float inv = inverse_std(v, epsilon);
    saved_mean[c] = m;
    saved_inv_std[c] = inv;
    scale[c] = gamma ? inv * gamma[c] : inv;
    shift[c] = (beta ? beta[c] : 0.0f) - m * scale[c];
    moving_mean[c] = moving_mean[c] * keep + m * take;
    moving_var[c] = moving_var[c] * keep + v * take;
  }
  scale_shift_rows(rows, channels, x, scale.data(), shift.data(), y);
}

void batch_norm_forward_inference(std::int64_t rows, std::int64_t channels, const float* x, const float* gamma,
                                  const float* beta, const float* moving_mean, const float* moving_var,
                                  float epsilon, float* y) {
  if (rows <= 0 || channels <= 0) return;
  std::vector<float> scale(static_cast<size_t>(channels)), shift(static_cast<size_t>(channels));
  for (std::int64_t c = 0; c < channels; ++c) {
    const float inv = inverse_std(moving_var[c], epsilon);
    scale[c] = gamma ? inv * gamma[c] : inv;
    shift[c] = (beta ? beta[c] : 0.0f) - moving_mean[c] * scale[c];
  }
  scale_shift_rows(rows, channels, x, scale.data(), shift.data(), y);
}

void batch_norm_backward(std::int64_t rows, std::int64_t channels, const float* x, const float* gamma,
                         const float* saved_mean, const float* saved_inv_std, const float* dy, float* dx,
                         float* dgamma, float* dbeta) {
  if (channels <= 0) return;
  if (rows <= 0) {
    for (std::int64_t c = 0; c < channels; ++c) {
      if (dgamma) dgamma[c] = 0.0f;
      if (dbeta) dbeta[c] = 0.0f;
    }
    return;
  }
  const auto& k = kernels();
  std::vector<double> sums(static_cast<size_t>(2 * channels));  // [sum dy | sum dy * (x - mean)]
  reduce_over_rows(rows, channels, 2, sums.data(), [&](std::int64_t r0, std::int64_t r1, double* acc) {
    k.backward_sums(r1 - r0, channels, x + r0 * channels, dy + r0 * channels, saved_mean, acc, acc + channels);
  });
  std::vector<float> scale(static_cast<size_t>(channels)), mean_dy(static_cast<size_t>(channels)),
      mean_dy_xhat(static_cast<size_t>(channels));
  const double n = static_cast<double>(rows);
  for (std::int64_t c = 0; c < channels; ++c) {
    const double sum_dy = sums[c], sum_dy_xhat = sums[channels + c] * saved_inv_std[c];
    if (dbeta) dbeta[c] = static_cast<float>(sum_dy);
    if (dgamma) dgamma[c] = static_cast<float>(sum_dy_xhat);
    scale[c] = gamma ? gamma[c] * saved_inv_std[c] : saved_inv_std[c];
    mean_dy[c] = static_cast<float>(sum_dy / n);
    mean_dy_xhat[c] = static_cast<float>(sum_dy_xhat / n);
  }
  const std::int64_t per_block = block_rows(channels);
  const std::int64_t blocks = (rows + per_block - 1) / per_block;
  parallel_for(blocks, 16.0 * static_cast<double>(per_block * channels), [&](std::int64_t b0, std::int64_t b1) {
    const std::int64_t r0 = b0 * per_block, r1 = b1 * per_block < rows ? b1 * per_block : rows;
    const std::int64_t o = r0 * channels;
    k.backward_dx(r1 - r0, channels, x + o, dy + o, saved_mean, saved_inv_std, scale.data(), mean_dy.data(),
                  mean_dy_xhat.data(), dx + o);
  });
}

void batch_norm_backward_inference(std::int64_t rows, std::int64_t channels, const float* x, const float* gamma,
                                   const float* moving_mean, const float* moving_var, float epsilon, const float* dy,
                                   float* dx, float* dgamma, float* dbeta) {
  if (channels <= 0) return;
  std::vector<float> scale(static_cast<size_t>(channels)), inv(static_cast<size_t>(channels)),
      zero(static_cast<size_t>(channels), 0.0f);
  for (std::int64_t c = 0; c < channels; ++c) {
    inv[c] = inverse_std(moving_var[c], epsilon);
    scale[c] = gamma ? inv[c] * gamma[c] : inv[c];
  }
  if (dgamma || dbeta) {
    std::vector<double> sums(static_cast<size_t>(2 * channels), 0.0);
    if (rows > 0) {
      const auto& k = kernels();
      reduce_over_rows(rows, channels, 2, sums.data(), [&](std::int64_t r0, std::int64_t r1, double* acc) {
        k.backward_sums(r1 - r0, channels, x + r0 * channels, dy + r0 * channels, moving_mean, acc, acc + channels);
      });
    }
    for (std::int64_t c = 0; c < channels; ++c) {
      if (dbeta) dbeta[c] = static_cast<float>(sums[c]);
      if (dgamma) dgamma[c] = static_cast<float>(sums[channels + c] * inv[c]);
    }
  }
  if (rows > 0) scale_shift_rows(rows, channels, dy, scale.data(), zero.data(), dx);
}

}  // namespace convlite

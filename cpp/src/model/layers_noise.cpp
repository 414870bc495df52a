// Rescaling, GaussianNoise and GaussianDropout as model layers (Keras 3's formulas):
//   Rescaling:       y = x * scale + offset (a multiply, then an add: two roundings, as Keras's `inputs * scale +
//                    offset`), scale and offset per channel (one value repeated when Keras got a scalar);
//                    dx = dy * scale.
//   GaussianNoise:   training: y = x + stddev * n;          dx = dy.          Inference: the identity.
//   GaussianDropout: training: y = x * (1 + s * n), s = sqrt(rate / (1 - rate)); dx = dy * (1 + s * n).
// n is a standard normal draw per element from the counter-based Philox stream (Box-Muller on one block's four
// 32-bit words: two pairs, four normals), keyed by (model seed ^ layer salt) and numbered by the step and the
// element, so a run is reproducible after set_random_seed and the same for any thread count. Keras's own random
// generator cannot be reproduced; the distribution is the same.
#include <cmath>
#include <cstring>
#include <vector>

#include "convlite/model.hpp"
#include "convlite/parallel.hpp"
#include "convlite/random.hpp"

namespace convlite {
namespace {

constexpr std::int64_t kNormalsPerBlock = 4;

// Four standard normals from Philox block `block`: (r cos t, r sin t) for each pair of words, r = sqrt(-2 ln u1) with
// u1 in (0, 1] (never log 0), t = 2 pi u2 with u2 in [0, 1). In double, then rounded once to float.
void normal_block(std::uint64_t seed, std::uint64_t block, float out[kNormalsPerBlock]) {
  std::uint32_t words[4];
  philox_stream_block(seed, block, words);
  constexpr double kTwoPi = 6.283185307179586476925, kUnit = 1.0 / 4294967296.0;
  for (int pair = 0; pair < 2; ++pair) {
    const double u1 = (static_cast<double>(words[2 * pair]) + 1.0) * kUnit;
    const double u2 = static_cast<double>(words[2 * pair + 1]) * kUnit;
    const double r = std::sqrt(-2.0 * std::log(u1));
    out[2 * pair] = static_cast<float>(r * std::cos(kTwoPi * u2));
    out[2 * pair + 1] = static_cast<float>(r * std::sin(kTwoPi * u2));
  }
}

// noise[i] = mean + stddev * n_i for i in [0, n): the step's own window of blocks (2^30 blocks, 2^32 elements).
void normal_noise(std::uint64_t seed, std::uint64_t step, float mean, float stddev, float* noise, std::int64_t n) {
  const std::int64_t blocks = (n + kNormalsPerBlock - 1) / kNormalsPerBlock;
  parallel_for(blocks, 60.0 * kNormalsPerBlock, [&](std::int64_t b0, std::int64_t b1) {
    float draws[kNormalsPerBlock];
    for (std::int64_t b = b0; b < b1; ++b) {
      normal_block(seed, (step << 30) + static_cast<std::uint64_t>(b), draws);
      for (std::int64_t j = 0; j < kNormalsPerBlock && b * kNormalsPerBlock + j < n; ++j)
        noise[b * kNormalsPerBlock + j] = mean + stddev * draws[j];
    }
  });
}

void copy_values(const float* from, float* to, std::int64_t n) {
  if (from != to) std::memcpy(to, from, static_cast<std::size_t>(n) * sizeof(float));
}

class RescalingLayer final : public ModelLayer {
 public:
  RescalingLayer(std::int64_t size, std::vector<float> scale, std::vector<float> offset)
      : size_(size), scale_(std::move(scale)), offset_(std::move(offset)) {}
  std::int64_t in_size() const override { return size_; }
  std::int64_t out_size() const override { return size_; }
  bool backward_in_place() const override { return true; }
  void forward(std::int64_t batch, const float* x, float* y, const StepContext&) override {
    const std::int64_t channels = static_cast<std::int64_t>(scale_.size());
    parallel_for(batch * size_ / channels, 2.0 * channels, [&](std::int64_t r0, std::int64_t r1) {
      for (std::int64_t r = r0; r < r1; ++r) {
        for (std::int64_t c = 0; c < channels; ++c) {
          const float scaled = x[r * channels + c] * scale_[c];
          y[r * channels + c] = scaled + offset_[c];
        }
      }
    });
  }
  void backward(std::int64_t batch, const float*, const float*, const float* dy, float* dx) override {
    if (!dx) return;
    const std::int64_t channels = static_cast<std::int64_t>(scale_.size());
    parallel_for(batch * size_ / channels, 1.0 * channels, [&](std::int64_t r0, std::int64_t r1) {
      for (std::int64_t r = r0; r < r1; ++r)
        for (std::int64_t c = 0; c < channels; ++c) dx[r * channels + c] = dy[r * channels + c] * scale_[c];
    });
  }

 private:
  std::int64_t size_;
  std::vector<float> scale_, offset_;
};

// Both noise layers: `multiplicative` false adds stddev * n (GaussianNoise), true multiplies by 1 + stddev * n
// (GaussianDropout). A zero stddev is the identity, as Keras skips the draw for stddev / rate 0.
class GaussianLayer final : public ModelLayer {
 public:
  GaussianLayer(bool multiplicative, float stddev, std::int64_t size, std::uint64_t salt)
      : multiplicative_(multiplicative), stddev_(stddev), size_(size), salt_(salt) {}
  std::int64_t in_size() const override { return size_; }
  std::int64_t out_size() const override { return size_; }
  bool backward_in_place() const override { return true; }
  bool identity_in_inference() const override { return true; }
  std::size_t training_scratch_bytes() const override { return noise_.capacity() * sizeof(float); }
  void reserve_training(std::int64_t batch) override {
    if (multiplicative_) noise_.resize(static_cast<std::size_t>(batch * size_));
  }
  void forward(std::int64_t batch, const float* x, float* y, const StepContext& ctx) override {
    const std::int64_t n = batch * size_;
    active_ = ctx.training && stddev_ > 0.0f;
    if (!active_) return copy_values(x, y, n);
    const std::uint64_t seed = ctx.seed ^ (salt_ * 0x9E3779B97F4A7C15ull);
    if (multiplicative_) {  // the factors are kept: backward multiplies dy by them
      normal_noise(seed, ctx.step, 1.0f, stddev_, noise_.data(), n);
      for (std::int64_t i = 0; i < n; ++i) y[i] = x[i] * noise_[i];
    } else {  // y holds the noise first, then x is added (y never aliases x: the model gives each layer its output)
      normal_noise(seed, ctx.step, 0.0f, stddev_, y, n);
      for (std::int64_t i = 0; i < n; ++i) y[i] = x[i] + y[i];
    }
  }
  void backward(std::int64_t batch, const float*, const float*, const float* dy, float* dx) override {
    if (!dx) return;
    const std::int64_t n = batch * size_;
    if (!active_ || !multiplicative_) return copy_values(dy, dx, n);
    for (std::int64_t i = 0; i < n; ++i) dx[i] = dy[i] * noise_[i];
  }

 private:
  bool multiplicative_;
  float stddev_;
  std::int64_t size_;
  std::uint64_t salt_;
  bool active_ = false;
  std::vector<float> noise_;
};

}  // namespace

std::unique_ptr<ModelLayer> make_rescaling_layer(std::int64_t size, std::vector<float> scale,
                                                 std::vector<float> offset) {
  return std::make_unique<RescalingLayer>(size, std::move(scale), std::move(offset));
}

std::unique_ptr<ModelLayer> make_gaussian_layer(bool multiplicative, float stddev, std::int64_t size,
                                                std::uint64_t salt) {
  return std::make_unique<GaussianLayer>(multiplicative, stddev, size, salt);
}

}  // namespace convlite

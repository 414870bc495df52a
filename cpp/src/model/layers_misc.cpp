// Layers without a GEMM: activations, views (Flatten/Reshape), pooling, dropout, batch norm, padding, upsampling.
#include <cmath>
#include <cstring>

#include "convlite/model.hpp"
#include "gemm/gemm_driver.hpp"

namespace convlite {
namespace {

void copy_floats(const float* x, float* y, std::int64_t n) {
  if (x != y) std::memcpy(y, x, static_cast<std::size_t>(n) * sizeof(float));
}

class ActivationLayer final : public ModelLayer {
 public:
  ActivationLayer(const ActivationParams& p, std::int64_t size, std::int64_t last_dim)
      : p_(p), size_(size), last_dim_(last_dim) {}
  std::int64_t in_size() const override { return size_; }
  std::int64_t out_size() const override { return size_; }
  const ActivationParams* activation() const override { return &p_; }
  bool backward_in_place() const override { return true; }  // activation_backward: dx may alias dy
  void forward(std::int64_t batch, const float* x, float* y, const StepContext&) override {
    activation_forward(p_, x, y, batch * size_, last_dim_);
  }
  void backward(std::int64_t batch, const float* x, const float* y, const float* dy, float* dx) override {
    if (dx) activation_backward(p_, x, y, dy, dx, batch * size_, last_dim_);
  }

 private:
  ActivationParams p_;
  std::int64_t size_, last_dim_;
};

class ViewLayer final : public ModelLayer {
 public:
  explicit ViewLayer(std::int64_t size) : size_(size) {}
  std::int64_t in_size() const override { return size_; }
  std::int64_t out_size() const override { return size_; }
  bool is_view() const override { return true; }
  void forward(std::int64_t batch, const float* x, float* y, const StepContext&) override {
    copy_floats(x, y, batch * size_);
  }
  void backward(std::int64_t batch, const float*, const float*, const float* dy, float* dx) override {
    if (dx) copy_floats(dy, dx, batch * size_);
  }

 private:
  std::int64_t size_;
};

// Max pooling in training keeps the winners for the backward: a one-byte window code on the 2x2 / stride 2 route
// (a quarter of an int32 index's traffic), the int32 input index otherwise.
class Pool2dLayer final : public ModelLayer {
 public:
  Pool2dLayer(PoolKind kind, const Pool2dShape& s)
      : kind_(kind), s_(s), window_code_(kind == PoolKind::max && max_pool2d_window_code_applies(s)) {}
  std::int64_t in_size() const override { return s_.in_h * s_.in_w * s_.channels; }
  std::int64_t out_size() const override { return s_.out_h * s_.out_w * s_.channels; }
  // Absorbed by the conv layer before it (ModelLayer::fusable_max_pool): its output already is this layer's.
  bool is_view() const override { return absorbed_; }
  const Pool2dShape* fusable_max_pool() const override { return window_code_ ? &s_ : nullptr; }
  void mark_absorbed() override { absorbed_ = true; }
  std::size_t training_scratch_bytes() const override {
    return code_.capacity() + argmax_.capacity() * sizeof(std::int32_t) + masked_dy_.capacity() * sizeof(float);
  }
  void reserve_training(std::int64_t batch) override {
    if (kind_ != PoolKind::max || absorbed_) return;
    const auto n = static_cast<std::size_t>(batch * out_size());
    if (window_code_) {
      code_.resize(n);  // the relu fold runs inside the code's backward
    } else {
      argmax_.resize(n);
      if (fold_relu_) masked_dy_.resize(n);
    }
  }
  bool fold_input_relu_mask() override { return fold_relu_ = kind_ == PoolKind::max; }
  void forward(std::int64_t batch, const float* x, float* y, const StepContext& ctx) override {
    Pool2dShape s = s_;
    s.batch = batch;
    if (kind_ != PoolKind::max)
      avg_pool2d_forward(s, x, y);
    else if (ctx.training && window_code_)
      max_pool2d_forward_code(s, x, y, code_.data());
    else
      max_pool2d_forward(s, x, y, ctx.training ? argmax_.data() : nullptr);
  }
  void backward(std::int64_t batch, const float*, const float* y, const float* dy, float* dx) override {
    if (!dx) return;
    Pool2dShape s = s_;
    s.batch = batch;
    if (kind_ != PoolKind::max) {
      avg_pool2d_backward(s, dy, dx);
    } else if (window_code_) {
      max_pool2d_backward_code(s, code_.data(), dy, dx, fold_relu_ ? y : nullptr);
    } else {
      if (fold_relu_) {  // dy where the pooled output is positive, +0 elsewhere (ModelLayer::fold_input_relu_mask)
        gemm::masked_gradient(dy, y, masked_dy_.data(), batch * out_size(), 1, 0.0f);
        dy = masked_dy_.data();
      }
      max_pool2d_backward(s, argmax_.data(), dy, dx);
    }
  }

 private:
  PoolKind kind_;
  Pool2dShape s_;
  bool window_code_;
  bool absorbed_ = false;
  std::vector<std::uint8_t> code_;
  std::vector<std::int32_t> argmax_;
  bool fold_relu_ = false;
  std::vector<float> masked_dy_;
};

class GlobalPoolLayer final : public ModelLayer {
 public:
  GlobalPoolLayer(PoolKind kind, std::int64_t spatial, std::int64_t channels)
      : kind_(kind), spatial_(spatial), channels_(channels) {}
  std::int64_t in_size() const override { return spatial_ * channels_; }
  std::int64_t out_size() const override { return channels_; }
  std::size_t training_scratch_bytes() const override {
    return argmax_.capacity() * sizeof(std::int32_t) + masked_dy_.capacity() * sizeof(float);
  }
  void reserve_training(std::int64_t batch) override {
    if (kind_ == PoolKind::max) argmax_.resize(static_cast<std::size_t>(batch * channels_));
    if (fold_relu_) masked_dy_.resize(static_cast<std::size_t>(batch * channels_));
  }
  bool fold_input_relu_mask() override { return fold_relu_ = kind_ == PoolKind::max; }
  void forward(std::int64_t batch, const float* x, float* y, const StepContext& ctx) override {
    if (kind_ == PoolKind::max)
      global_max_pool_forward(batch, spatial_, channels_, x, y, ctx.training ? argmax_.data() : nullptr);
    else
      global_avg_pool_forward(batch, spatial_, channels_, x, y);
  }
  void backward(std::int64_t batch, const float*, const float* y, const float* dy, float* dx) override {
    if (!dx) return;
    if (fold_relu_) {
      gemm::masked_gradient(dy, y, masked_dy_.data(), batch * channels_, 1, 0.0f);
      dy = masked_dy_.data();
    }
    if (kind_ == PoolKind::max)
      global_max_pool_backward(batch, spatial_, channels_, argmax_.data(), dy, dx);
    else
      global_avg_pool_backward(batch, spatial_, channels_, dy, dx);
  }

 private:
  PoolKind kind_;
  std::int64_t spatial_, channels_;
  std::vector<std::int32_t> argmax_;
  bool fold_relu_ = false;
  std::vector<float> masked_dy_;
};

class DropoutLayer final : public ModelLayer {
 public:
  DropoutLayer(float rate, std::int64_t size, std::int64_t spatial, std::int64_t channels, std::uint64_t salt)
      : rate_(rate), size_(size), spatial_(spatial), channels_(channels), salt_(salt) {}
  std::int64_t in_size() const override { return size_; }
  std::int64_t out_size() const override { return size_; }
  bool identity_in_inference() const override { return true; }
  std::size_t training_scratch_bytes() const override { return mask_.capacity(); }
  void reserve_training(std::int64_t batch) override {
    mask_.resize(static_cast<std::size_t>(spatial_ ? batch * channels_ : batch * size_));
  }
  void forward(std::int64_t batch, const float* x, float* y, const StepContext& ctx) override {
    active_ = ctx.training && rate_ > 0.0f;
    if (!active_) return copy_floats(x, y, batch * size_);
    // Each step draws from its own window of the counter-based stream: offset = step * 2^32.
    const std::uint64_t seed = ctx.seed ^ (salt_ * 0x9E3779B97F4A7C15ull);
    const std::uint64_t offset = ctx.step << 32;
    if (spatial_)
      spatial_dropout_forward(batch, spatial_, channels_, rate_, seed, offset, x, y, mask_.data());
    else
      dropout_forward(batch * size_, rate_, seed, offset, x, y, mask_.data());
  }
  void backward(std::int64_t batch, const float*, const float*, const float* dy, float* dx) override {
    if (!dx) return;
    if (!active_) return copy_floats(dy, dx, batch * size_);
    if (spatial_)
      spatial_dropout_backward(batch, spatial_, channels_, rate_, mask_.data(), dy, dx);
    else
      dropout_backward(batch * size_, rate_, mask_.data(), dy, dx);
  }

 private:
  float rate_;
  std::int64_t size_, spatial_, channels_;
  std::uint64_t salt_;
  bool active_ = false;
  std::vector<std::uint8_t> mask_;
};

class BatchNormLayer final : public ModelLayer {
 public:
  BatchNormLayer(std::int64_t spatial, std::int64_t channels, double momentum, float epsilon, float* gamma,
                 float* beta, float* moving_mean, float* moving_var, bool frozen)
      : frozen_(frozen), spatial_(spatial), channels_(channels), momentum_(momentum), epsilon_(epsilon),
        gamma_(gamma), beta_(beta), moving_mean_(moving_mean), moving_var_(moving_var), mean_(channels),
        inv_std_(channels) {
    if (gamma) add_param(gamma, channels);
    if (beta) add_param(beta, channels);
  }
  std::int64_t in_size() const override { return spatial_ * channels_; }
  std::int64_t out_size() const override { return spatial_ * channels_; }
  void forward(std::int64_t batch, const float* x, float* y, const StepContext& ctx) override {
    if (ctx.training && !frozen_)
      batch_norm_forward_training(batch * spatial_, channels_, x, gamma_, beta_, moving_mean_, moving_var_,
                                  momentum_, epsilon_, y, mean_.data(), inv_std_.data());
    else
      batch_norm_forward_inference(batch * spatial_, channels_, x, gamma_, beta_, moving_mean_, moving_var_,
                                   epsilon_, y);
  }
  void backward(std::int64_t batch, const float* x, const float*, const float* dy, float* dx) override {
    float* dgamma = gamma_ ? params_[0].grad : nullptr;
    float* dbeta = beta_ ? params_[gamma_ ? 1 : 0].grad : nullptr;
    if (frozen_) {
      // Inference-mode normalisation is affine per channel: y = x * scale + shift with scale from the moving
      // variance, so dx = dy * scale (the frozen parameters need no gradient).
      const std::int64_t rows = batch * spatial_;
      for (std::int64_t c = 0; c < channels_; ++c)
        mean_[c] = (gamma_ ? gamma_[c] : 1.0f) / std::sqrt(moving_var_[c] + epsilon_);
      if (dx)
        for (std::int64_t r = 0; r < rows; ++r)
          for (std::int64_t c = 0; c < channels_; ++c) dx[r * channels_ + c] = dy[r * channels_ + c] * mean_[c];
      return;
    }
    batch_norm_backward(batch * spatial_, channels_, x, gamma_, mean_.data(), inv_std_.data(), dy, dx, dgamma,
                        dbeta);
  }

 private:
  bool frozen_;
  std::int64_t spatial_, channels_;
  double momentum_;
  float epsilon_;
  float *gamma_, *beta_, *moving_mean_, *moving_var_;
  std::vector<float> mean_, inv_std_;
};

class ZeroPadLayer final : public ModelLayer {
 public:
  ZeroPadLayer(std::int64_t h, std::int64_t w, std::int64_t c, std::int64_t t, std::int64_t b, std::int64_t l,
               std::int64_t r)
      : h_(h), w_(w), c_(c), t_(t), b_(b), l_(l), r_(r) {}
  std::int64_t in_size() const override { return h_ * w_ * c_; }
  std::int64_t out_size() const override { return (h_ + t_ + b_) * (w_ + l_ + r_) * c_; }
  void forward(std::int64_t batch, const float* x, float* y, const StepContext&) override {
    zero_pad2d_forward(batch, h_, w_, c_, t_, b_, l_, r_, x, y);
  }
  void backward(std::int64_t batch, const float*, const float*, const float* dy, float* dx) override {
    if (dx) zero_pad2d_backward(batch, h_, w_, c_, t_, b_, l_, r_, dy, dx);
  }

 private:
  std::int64_t h_, w_, c_, t_, b_, l_, r_;
};

class UpsampleLayer final : public ModelLayer {
 public:
  UpsampleLayer(std::int64_t h, std::int64_t w, std::int64_t c, std::int64_t sh, std::int64_t sw)
      : h_(h), w_(w), c_(c), sh_(sh), sw_(sw) {}
  std::int64_t in_size() const override { return h_ * w_ * c_; }
  std::int64_t out_size() const override { return h_ * sh_ * w_ * sw_ * c_; }
  void forward(std::int64_t batch, const float* x, float* y, const StepContext&) override {
    upsample2d_forward(batch, h_, w_, c_, sh_, sw_, x, y);
  }
  void backward(std::int64_t batch, const float*, const float*, const float* dy, float* dx) override {
    if (dx) upsample2d_backward(batch, h_, w_, c_, sh_, sw_, dy, dx);
  }

 private:
  std::int64_t h_, w_, c_, sh_, sw_;
};

}  // namespace

std::unique_ptr<ModelLayer> make_activation_layer(const ActivationParams& p, std::int64_t size,
                                                  std::int64_t last_dim) {
  return std::make_unique<ActivationLayer>(p, size, last_dim);
}
std::unique_ptr<ModelLayer> make_view_layer(std::int64_t size) { return std::make_unique<ViewLayer>(size); }
std::unique_ptr<ModelLayer> make_pool2d_layer(PoolKind kind, const Pool2dShape& s) {
  return std::make_unique<Pool2dLayer>(kind, s);
}
std::unique_ptr<ModelLayer> make_global_pool_layer(PoolKind kind, std::int64_t spatial, std::int64_t channels) {
  return std::make_unique<GlobalPoolLayer>(kind, spatial, channels);
}
std::unique_ptr<ModelLayer> make_dropout_layer(float rate, std::int64_t size, std::int64_t spatial,
                                               std::int64_t channels, std::uint64_t seed_salt) {
  return std::make_unique<DropoutLayer>(rate, size, spatial, channels, seed_salt);
}
std::unique_ptr<ModelLayer> make_batch_norm_layer(std::int64_t spatial, std::int64_t channels, double momentum,
                                                  float epsilon, float* gamma, float* beta, float* moving_mean,
                                                  float* moving_var, bool frozen) {
  return std::make_unique<BatchNormLayer>(spatial, channels, momentum, epsilon, gamma, beta, moving_mean,
                                          moving_var, frozen);
}
std::unique_ptr<ModelLayer> make_zero_pad_layer(std::int64_t in_h, std::int64_t in_w, std::int64_t channels,
                                                std::int64_t top, std::int64_t bottom, std::int64_t left,
                                                std::int64_t right) {
  return std::make_unique<ZeroPadLayer>(in_h, in_w, channels, top, bottom, left, right);
}
std::unique_ptr<ModelLayer> make_upsample_layer(std::int64_t in_h, std::int64_t in_w, std::int64_t channels,
                                                std::int64_t size_h, std::int64_t size_w) {
  return std::make_unique<UpsampleLayer>(in_h, in_w, channels, size_h, size_w);
}

}  // namespace convlite

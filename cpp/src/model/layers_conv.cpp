// Layers with weights that run through the convolution family: conv2d (Conv1D/2D), depthwise2d
// (DepthwiseConv1D/2D), separable (SeparableConv1D/2D, fused depthwise + pointwise) and dense.
#include "convlite/model.hpp"
#include "model/conv_pool_fusion.hpp"

namespace convlite {

void ModelLayer::add_param(float* value, std::int64_t size) { params_.push_back(ParamRef{value, nullptr, size}); }

void ModelLayer::allocate_param_grads() {
  if (grads_.size() == params_.size()) return;
  grads_.clear();
  for (const ParamRef& p : params_) grads_.emplace_back(static_cast<std::size_t>(p.size), 0.0f);
  for (std::size_t i = 0; i < params_.size(); ++i) params_[i].grad = grads_[i].data();
}

std::size_t ModelLayer::param_grad_bytes() const {
  std::size_t bytes = 0;
  for (const auto& g : grads_) bytes += g.capacity() * sizeof(float);
  return bytes;
}

namespace {

class Conv2dLayer final : public ModelLayer {
 public:
  Conv2dLayer(const Conv2dShape& s, const Epilogue& e, float* kernel, float* bias, bool depthwise)
      : shape_(s), epilogue_(e), kernel_(kernel), bias_(bias), depthwise_(depthwise) {
    const std::int64_t kernel_size =
        depthwise ? s.kernel_h * s.kernel_w * s.out_c : s.kernel_h * s.kernel_w * (s.in_c / s.groups) * s.out_c;
    add_param(kernel, kernel_size);
    if (bias) add_param(bias, s.out_c);
  }
  std::int64_t in_size() const override { return shape_.in_h * shape_.in_w * shape_.in_c; }
  std::int64_t out_size() const override { return shape_.out_h * shape_.out_w * shape_.out_c; }

  void reserve_training(std::int64_t batch) override {
    if (pool_) pool_->reserve_training(batch);
  }
  std::size_t training_scratch_bytes() const override { return pool_ ? pool_->training_scratch_bytes() : 0; }
  void forward(std::int64_t batch, const float* x, float* y, const StepContext& ctx) override {
    if (pool_) return pool_->forward(batch, x, kernel_, bias_, y, ctx.training);  // y holds the pooled output
    Conv2dShape s = shape_;
    s.batch = batch;
    if (depthwise_)
      depthwise2d_forward(s, x, kernel_, bias_, y, epilogue_);
    else
      conv2d_forward(s, x, kernel_, bias_, y, epilogue_);
  }
  void backward(std::int64_t batch, const float* x, const float* y, const float* dy, float* dx) override {
    Conv2dShape s = shape_;
    s.batch = batch;
    float* db = bias_ ? params_[1].grad : nullptr;
    if (pool_) return pool_->backward(batch, x, kernel_, y, dy, dx, params_[0].grad, db);  // y, dy: pooled
    const float* mask_y = output_masked_ ? nullptr : y;  // without y the ops apply no activation derivative
    if (depthwise_)
      depthwise2d_backward(s, x, kernel_, mask_y, dy, dx, params_[0].grad, db, epilogue_);
    else
      conv2d_backward(s, x, kernel_, mask_y, dy, dx, params_[0].grad, db, epilogue_);
  }
  bool has_relu_epilogue() const override { return epilogue_.activation == FusedActivation::relu; }
  void skip_output_mask() override { output_masked_ = true; }
  bool absorb_next_max_pool(const Pool2dShape& pool) override {
    if (!depthwise_ && !output_masked_) pool_ = ConvPoolFusion::make(shape_, epilogue_, pool);
    return pool_ != nullptr;
  }

 private:
  Conv2dShape shape_;
  Epilogue epilogue_;
  float* kernel_;
  float* bias_;
  bool depthwise_;
  bool output_masked_ = false;
  std::unique_ptr<ConvPoolFusion> pool_;  // the next max pooling layer, absorbed
};

// SeparableConv: the fused forward. In training the depthwise output (the pointwise input, which the weight
// gradient of the pointwise kernel needs) is written as a by-product of the same pass, tile by tile while it is
// in cache: cheaper than a second depthwise pass in backward. Inference keeps it in per-thread tiles only.
class SeparableLayer final : public ModelLayer {
 public:
  SeparableLayer(const Conv2dShape& s, std::int64_t dm, const Epilogue& e, float* depthwise, float* pointwise,
                 float* bias)
      : shape_(s), dm_(dm), epilogue_(e), depthwise_(depthwise), pointwise_(pointwise), bias_(bias) {
    add_param(depthwise, s.kernel_h * s.kernel_w * s.in_c * dm);
    add_param(pointwise, s.in_c * dm * s.out_c);
    if (bias) add_param(bias, s.out_c);
  }
  std::int64_t in_size() const override { return shape_.in_h * shape_.in_w * shape_.in_c; }
  std::int64_t out_size() const override { return shape_.out_h * shape_.out_w * shape_.out_c; }

  // Sized once per training batch size (a resize in forward zero-filled the tail again after every epoch's
  // shorter last batch).
  void reserve_training(std::int64_t batch) override {
    const auto size = static_cast<std::size_t>(batch * shape_.out_h * shape_.out_w * shape_.in_c * dm_);
    if (mid_.size() < size) mid_.resize(size);
  }
  std::size_t training_scratch_bytes() const override { return mid_.capacity() * sizeof(float); }
  void forward(std::int64_t batch, const float* x, float* y, const StepContext& ctx) override {
    Conv2dShape s = shape_;
    s.batch = batch;
    float* mid = nullptr;
    mid_batch_ = -1;
    if (ctx.training) {
      mid = mid_.data();
      mid_batch_ = batch;
    }
    separable_conv2d_forward(s, dm_, x, depthwise_, pointwise_, bias_, y, epilogue_, mid);
  }
  void backward(std::int64_t batch, const float* x, const float* y, const float* dy, float* dx) override {
    Conv2dShape s = shape_;
    s.batch = batch;
    const float* mid = mid_batch_ == batch ? mid_.data() : nullptr;  // else recomputed
    separable_conv2d_backward(s, dm_, x, depthwise_, pointwise_, mid, output_masked_ ? nullptr : y, dy, dx,
                              params_[0].grad, params_[1].grad, bias_ ? params_[2].grad : nullptr, epilogue_);
  }
  bool has_relu_epilogue() const override { return epilogue_.activation == FusedActivation::relu; }
  void skip_output_mask() override { output_masked_ = true; }

 private:
  Conv2dShape shape_;
  std::int64_t dm_;
  Epilogue epilogue_;
  float* depthwise_;
  float* pointwise_;
  float* bias_;
  std::vector<float> mid_;
  std::int64_t mid_batch_ = -1;
  bool output_masked_ = false;
};

class DenseLayer final : public ModelLayer {
 public:
  DenseLayer(std::int64_t rows, std::int64_t in, std::int64_t units, const Epilogue& e, float* kernel, float* bias)
      : rows_(rows), in_(in), units_(units), epilogue_(e), kernel_(kernel), bias_(bias) {
    add_param(kernel, in * units);
    if (bias) add_param(bias, units);
  }
  std::int64_t in_size() const override { return rows_ * in_; }
  std::int64_t out_size() const override { return rows_ * units_; }
  void forward(std::int64_t batch, const float* x, float* y, const StepContext&) override {
    dense_forward(batch * rows_, in_, units_, x, kernel_, bias_, y, epilogue_);
  }
  void backward(std::int64_t batch, const float* x, const float* y, const float* dy, float* dx) override {
    dense_backward(batch * rows_, in_, units_, x, kernel_, output_masked_ ? nullptr : y, dy, dx, params_[0].grad,
                   bias_ ? params_[1].grad : nullptr, epilogue_);
  }
  bool has_relu_epilogue() const override { return epilogue_.activation == FusedActivation::relu; }
  void skip_output_mask() override { output_masked_ = true; }

 private:
  std::int64_t rows_, in_, units_;
  Epilogue epilogue_;
  float* kernel_;
  float* bias_;
  bool output_masked_ = false;
};

}  // namespace

std::unique_ptr<ModelLayer> make_conv2d_layer(const Conv2dShape& s, const Epilogue& e, float* kernel, float* bias) {
  return std::make_unique<Conv2dLayer>(s, e, kernel, bias, false);
}
std::unique_ptr<ModelLayer> make_depthwise2d_layer(const Conv2dShape& s, const Epilogue& e, float* kernel,
                                                   float* bias) {
  return std::make_unique<Conv2dLayer>(s, e, kernel, bias, true);
}
std::unique_ptr<ModelLayer> make_separable2d_layer(const Conv2dShape& s, std::int64_t depth_multiplier,
                                                   const Epilogue& e, float* depthwise, float* pointwise,
                                                   float* bias) {
  return std::make_unique<SeparableLayer>(s, depth_multiplier, e, depthwise, pointwise, bias);
}
std::unique_ptr<ModelLayer> make_dense_layer(std::int64_t rows, std::int64_t in, std::int64_t units,
                                             const Epilogue& e, float* kernel, float* bias) {
  return std::make_unique<DenseLayer>(rows, in, units, e, kernel, bias);
}

}  // namespace convlite

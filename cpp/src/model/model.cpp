// Model: buffer planning, forward/backward over the layer chain, loss (fused with sigmoid/softmax where Keras's
// TensorFlow backend also takes the logits path), in-step accuracy and the optimizer update.
#include "convlite/model.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <ctime>
#include <optional>
#include <stdexcept>

#include "convlite/parallel.hpp"

namespace convlite {

// Adds the seconds since the last call to *slot (when profiling); one clock read per mark. The thread-CPU clock
// counts only the calling thread's own run time, so on one thread it is immune to other processes taking the core
// (a shared machine); with more threads it misses the workers' share, so wall time is the default.
class StepClock {
 public:
  StepClock(bool on, bool thread_cpu) : on_(on), thread_cpu_(thread_cpu) {
    if (on_) last_ = now();
  }
  void mark(double* slot) {
    if (!on_) return;
    const double t = now();
    *slot += t - last_;
    last_ = t;
  }
  bool on() const { return on_; }

 private:
  double now() const {
#if defined(CLOCK_THREAD_CPUTIME_ID)
    if (thread_cpu_) {
      timespec ts{};
      clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
      return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
    }
#endif
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
  }
  bool on_, thread_cpu_;
  double last_ = 0.0;
};

namespace {
// A training step (forward + backward, about 3x the forward FLOPs) below this much work runs on one thread: a model
// like the seed ECG net (~8 MFLOP per step of 32) spends more in a dozen fork/joins than in arithmetic, and on a
// busy machine every region waits for a descheduled worker (measured: 2 threads 20-30x slower than 1 there).
constexpr double kSerialStepFlops = 16e6;

// Engages a SerialScope only for small work.
struct MaybeSerial {
  explicit MaybeSerial(bool serial) {
    if (serial) scope.emplace();
  }
  std::optional<SerialScope> scope;
};
}  // namespace

void Model::add_layer(std::unique_ptr<ModelLayer> layer) {
  if (!layers_.empty() && layers_.back()->out_size() != layer->in_size())
    throw std::invalid_argument("Layer sizes do not chain: previous output has " +
                                std::to_string(layers_.back()->out_size()) + " values per sample, next input " +
                                std::to_string(layer->in_size()));
  const Pool2dShape* pool = layer->fusable_max_pool();
  if (!layers_.empty() && pool && layers_.back()->absorb_next_max_pool(*pool))
    layer->mark_absorbed();
  else if (!layers_.empty() && layers_.back()->has_relu_epilogue() && layer->fold_input_relu_mask())
    layers_.back()->skip_output_mask();
  if (layer->activity_regularization()) activity_layers_.push_back(layers_.size());
  layers_.push_back(std::move(layer));
  acts_.clear();  // every buffer is sized again for the new chain on its next pass
  grads_.clear();
  batch_y_.clear();
  batch_w_.clear();
  reserved_batch_ = training_forward_batch_ = gradient_batch_ = -1;
}

std::int64_t Model::input_size() const { return layers_.empty() ? 0 : layers_.front()->in_size(); }
std::int64_t Model::output_size() const { return layers_.empty() ? 0 : layers_.back()->out_size(); }
std::size_t Model::num_params() const {
  std::size_t n = 0;
  for (const auto& l : layers_) n += l->params().size();
  return n;
}

void Model::set_trainable(const std::vector<bool>& flags) {
  if (flags.size() != num_params())
    throw std::invalid_argument("Expected one trainable flag per parameter (" + std::to_string(num_params()) +
                                "). Received: " + std::to_string(flags.size()));
  std::size_t i = 0;
  for (auto& l : layers_)
    for (auto& p : l->params()) p.trainable = flags[i++];
}

std::size_t Model::num_trainable() const {
  std::size_t n = 0;
  for (const auto& l : layers_)
    for (const auto& p : const_cast<ModelLayer&>(*l).params()) n += p.trainable;
  return n;
}

void Model::set_loss(const LossParams& loss, std::int64_t label_size) {
  loss_ = loss;
  label_size_ = label_size;
}

void Model::set_optimizer(const OptimizerConfig& config, std::vector<std::vector<float*>> slots) {
  if (slots.size() != num_trainable())
    throw std::invalid_argument("The optimizer has state for " + std::to_string(slots.size()) +
                                " variables but the model has " + std::to_string(num_trainable()) +
                                " trainable ones");
  opt_ = config;
  slots_ = std::move(slots);
}

// Keras's TensorFlow backend computes any cross-entropy on a sigmoid or softmax output from the activation's input
// (the `_keras_logits` it caches), whatever the pairing and even with from_logits=True: a sigmoid output under
// categorical cross-entropy gets the softmax cross-entropy of its logits. The model does the same, so the loss and
// its gradient match Keras for every pairing, not only the matched ones.
bool Model::fused_loss() const {
  if (layers_.size() < 2) return false;
  const std::size_t a = output_activation_index();
  const ActivationParams* act = a > 0 ? layers_[a]->activation() : nullptr;
  if (!act || (act->kind != ActivationKind::sigmoid && act->kind != ActivationKind::softmax)) return false;
  return loss_.kind == LossKind::binary_crossentropy || loss_.kind == LossKind::categorical_crossentropy ||
         loss_.kind == LossKind::sparse_categorical_crossentropy;
}

const float* Model::forward(std::int64_t batch, const float* input, const StepContext& ctx, StepClock* clock) {
  act_ptr_[0] = input;
  for (std::size_t i = 0; i < layers_.size(); ++i) {
    if (layers_[i]->is_view() || (!ctx.training && layers_[i]->identity_in_inference())) {
      act_ptr_[i + 1] = act_ptr_[i];
      continue;
    }
    float* out = acts_[i + 1].data();
    layers_[i]->forward(batch, act_ptr_[i], out, ctx);
    act_ptr_[i + 1] = out;
    if (clock) clock->mark(&profile_.forward[i]);
  }
  return act_ptr_[layers_.size()];
}

void Model::set_profiling(bool on, bool thread_cpu) {
  profiling_ = on;
  profile_thread_cpu_ = thread_cpu;
  profile_ = StepProfile{};
  profile_.forward.assign(layers_.size(), 0.0);
  profile_.backward.assign(layers_.size(), 0.0);
}

void Model::gather(const float* src, std::int64_t width, const std::int64_t* index, std::int64_t count,
                   float* dst) const {
  const std::size_t bytes = static_cast<std::size_t>(width) * sizeof(float);
  for (std::int64_t i = 0; i < count; ++i) std::memcpy(dst + i * width, src + index[i] * width, bytes);
}

StepResult Model::loss_and_metrics(std::int64_t batch, const float* y, const float* sw, bool want_grad) {
  const std::size_t n = layers_.size();
  const std::int64_t features = output_size();
  const float* pred = act_ptr_[n];
  StepResult r;
  if (fused_loss()) {
    LossParams logits = loss_;
    logits.from_logits = true;
    const std::size_t a = output_activation_index();
    float* grad = want_grad ? grad_ptr_[a] : nullptr;
    r.loss = loss_forward_backward(logits, batch, features, act_ptr_[a], y, sw, grad);
  } else {
    r.loss = loss_forward_backward(loss_, batch, features, pred, y, sw, want_grad ? grad_ptr_[n] : nullptr);
  }
  if (loss_weight_ != 1.0f) {
    r.loss *= loss_weight_;
    if (want_grad) {
      float* grad = fused_loss() ? grad_ptr_[output_activation_index()] : grad_ptr_[n];
      for (std::int64_t i = 0; i < batch * features; ++i) grad[i] *= loss_weight_;
    }
  }
  if (accuracy_ == AccuracyKind::none) return r;
  for (std::int64_t b = 0; b < batch; ++b) {
    const float* p = pred + b * features;
    double acc = 0.0;
    if (accuracy_ == AccuracyKind::binary) {
      const float* t = y + b * features;
      std::int64_t hits = 0;
      for (std::int64_t j = 0; j < features; ++j) hits += static_cast<float>(p[j] > threshold_) == t[j];
      acc = static_cast<double>(hits) / static_cast<double>(features);
    } else {
      const std::int64_t best = std::max_element(p, p + features) - p;
      if (accuracy_ == AccuracyKind::sparse_categorical) {
        acc = y[b] == static_cast<float>(best);
      } else {
        const float* t = y + b * features;
        acc = (std::max_element(t, t + features) - t) == best;
      }
    }
    const double w = sw ? sw[b] : 1.0;
    r.correct += w * acc;
    r.weight += w;
  }
  return r;
}

StepResult Model::train_step(const float* x, const float* y, const float* sample_weight, const std::int64_t* index,
                             std::int64_t count, float learning_rate, std::int64_t step, std::uint64_t dropout_step,
                             float* predictions_out) {
  MaybeSerial serial(3.0 * forward_flops_ * static_cast<double>(count) < kSerialStepFlops);
  reserve(count);
  if (profiling_ && profile_.forward.size() != layers_.size()) set_profiling(true, profile_thread_cpu_);
  StepClock clock(profiling_, profile_thread_cpu_);
  gather(x, input_size(), index, count, acts_[0].data());
  gather(y, label_size_, index, count, batch_y_.data());
  const float* sw = nullptr;
  if (sample_weight) {
    gather(sample_weight, 1, index, count, batch_w_.data());
    sw = batch_w_.data();
  }
  clock.mark(&profile_.gather);
  StepContext ctx{true, seed_, dropout_step};
  const float* pred = forward(count, acts_[0].data(), ctx, clock.on() ? &clock : nullptr);
  StepResult r = loss_and_metrics(count, batch_y_.data(), sw, true);
  r.loss += added_losses(count);
  if (predictions_out)
    std::memcpy(predictions_out, pred, static_cast<std::size_t>(count * output_size()) * sizeof(float));
  clock.mark(&profile_.loss);
  const std::size_t n = layers_.size();
  const bool fused = fused_loss();
  const std::size_t last = fused ? output_activation_index() : n;  // the fused activation's backward is in the loss
  if (fused && last + 1 < n) add_output_activity_gradient(count);
  for (std::size_t i = last; i-- > 0;) {
    if (layers_[i]->is_view()) {
      if (!activity_layers_.empty()) add_activity_gradient(i, count);
      continue;
    }
    layers_[i]->backward(count, act_ptr_[i], act_ptr_[i + 1], grad_ptr_[i + 1], grad_ptr_[i]);
    if (clock.on()) clock.mark(&profile_.backward[i]);  // the vectors are empty when profiling is off
  }
  if (!param_regularization_.empty()) add_weight_penalty_gradients();
  apply_optimizer(learning_rate, step);
  clock.mark(&profile_.optimizer);
  profile_.steps += profiling_;
  return r;
}

StepResult Model::test_step(const float* x, const float* y, const float* sample_weight, const std::int64_t* index,
                            std::int64_t count, float* predictions_out) {
  MaybeSerial serial(forward_flops_ * static_cast<double>(count) < kSerialStepFlops);
  reserve_forward(count, false);
  reserve_batch_copy(count);
  gather(x, input_size(), index, count, acts_[0].data());
  gather(y, label_size_, index, count, batch_y_.data());
  const float* sw = nullptr;
  if (sample_weight) {
    gather(sample_weight, 1, index, count, batch_w_.data());
    sw = batch_w_.data();
  }
  StepContext ctx{false, seed_, 0};
  const float* pred = forward(count, acts_[0].data(), ctx);
  StepResult r = loss_and_metrics(count, batch_y_.data(), sw, false);
  r.loss += added_losses(count);
  if (predictions_out)
    std::memcpy(predictions_out, pred, static_cast<std::size_t>(count * output_size()) * sizeof(float));
  return r;
}

// The buffers stay allocated for the model's life, so predict(batch_size=50000) used to keep 3 GB for a 28x28
// convnet. Predictions do not depend on how the rows are cut into batches (every kernel's sums run in the same order
// for any batch: tests/test_model_api_edges.py), so predict runs a large batch in pieces whose inference
// activations stay within this size; a size already reserved (the training batch) is always used as is. The bound
// was 256 MB (memory only); the pieces are also faster when a layer's output is still in cache for the next layer:
// the Keras MNIST convnet predicting 10,000 rows on one thread took 0.35 s of CPU in pieces of 32-128 rows
// (1.9-7.6 MB of activations) against 0.41 s in pieces of 512-4543 rows (30-268 MB), on a Zen3 with 32 MB of L3.
constexpr double kPredictBufferBytes = 8.0 * 1024 * 1024;

std::int64_t Model::predict_chunk(std::int64_t n, std::int64_t batch_size) const {
  double floats = 0.0;  // the inference activations (predict reads x in place and allocates nothing else)
  for (std::size_t i = 0; i < layers_.size(); ++i)
    if (!skipped_in_inference(i)) floats += static_cast<double>(stored_size(i));
  const auto fits = static_cast<std::int64_t>(kPredictBufferBytes / (4.0 * std::max(floats, 1.0)));
  const std::int64_t wanted = std::min(n, batch_size);
  return std::min(wanted, std::max({fits, reserved_batch_, std::int64_t{1}}));
}

void Model::predict(const float* x, std::int64_t n, std::int64_t batch_size, float* out) {
  const std::int64_t in = input_size(), width = output_size();
  batch_size = predict_chunk(n, batch_size);
  reserve_forward(std::min(n, batch_size), false);
  MaybeSerial serial(forward_flops_ * static_cast<double>(std::min(n, batch_size)) < kSerialStepFlops);
  StepContext ctx{false, seed_, 0};
  for (std::int64_t start = 0; start < n; start += batch_size) {
    const std::int64_t count = std::min(batch_size, n - start);
    const float* pred = forward(count, x + start * in, ctx);
    std::memcpy(out + start * width, pred, static_cast<std::size_t>(count * width) * sizeof(float));
  }
}

void Model::forward_training(const float* x, std::int64_t n, std::uint64_t dropout_step, float* out) {
  reserve_forward(n, true);  // no gradients: model(x, training=True) runs no backward
  MaybeSerial serial(forward_flops_ * static_cast<double>(n) < kSerialStepFlops);
  StepContext ctx{true, seed_, dropout_step};
  const float* pred = forward(n, x, ctx);
  std::memcpy(out, pred, static_cast<std::size_t>(n * output_size()) * sizeof(float));
}

void Model::apply_optimizer(float lr, std::int64_t step) {
  std::vector<ParamRef*> params;
  for (auto& l : layers_)
    for (auto& p : l->params())
      if (p.trainable) params.push_back(&p);
  if (params.size() != slots_.size()) throw std::logic_error("compile the model before training it");
  if (opt_.clipnorm > 0.0f) {
    for (ParamRef* p : params) {
      const double norm = std::sqrt(sum_of_squares(p->grad, p->size));
      if (norm > opt_.clipnorm) scale_in_place(p->grad, p->size, static_cast<float>(opt_.clipnorm / norm));
    }
  } else if (opt_.global_clipnorm > 0.0f) {
    double total = 0.0;
    for (ParamRef* p : params) total += sum_of_squares(p->grad, p->size);
    const double norm = std::sqrt(total);
    if (!std::isfinite(norm)) {  // Keras turns every gradient into NaN then
      for (ParamRef* p : params) std::fill(p->grad, p->grad + p->size, std::nanf(""));
    } else if (norm > opt_.global_clipnorm) {
      for (ParamRef* p : params) scale_in_place(p->grad, p->size, static_cast<float>(opt_.global_clipnorm / norm));
    }
  } else if (opt_.clipvalue > 0.0f) {
    for (ParamRef* p : params) clip_in_place(p->grad, p->size, -opt_.clipvalue, opt_.clipvalue);
  }
  for (std::size_t i = 0; i < params.size(); ++i) {
    ParamRef& p = *params[i];
    const std::vector<float*>& s = slots_[i];
    const bool decay = opt_.decay_mask.empty() || opt_.decay_mask[i];
    if (opt_.weight_decay > 0.0f && decay) apply_weight_decay(p.value, p.size, lr, opt_.weight_decay);
    switch (opt_.kind) {
      case OptimizerKind::sgd:
        sgd_update(p.value, p.grad, opt_.momentum != 0.0f ? s[0] : nullptr, p.size, lr, opt_.momentum,
                   opt_.nesterov);
        break;
      case OptimizerKind::adam:
        adam_update(p.value, p.grad, s[0], s[1], opt_.amsgrad ? s[2] : nullptr, p.size, lr, opt_.beta_1,
                    opt_.beta_2, opt_.epsilon, step);
        break;
      case OptimizerKind::rmsprop: {
        std::size_t k = 1;
        float* mom = opt_.momentum != 0.0f ? s[k++] : nullptr;
        float* avg = opt_.centered ? s[k++] : nullptr;
        rmsprop_update(p.value, p.grad, s[0], mom, avg, p.size, lr, opt_.rho, opt_.momentum, opt_.epsilon);
        break;
      }
      case OptimizerKind::adagrad:
        adagrad_update(p.value, p.grad, s[0], p.size, lr, opt_.epsilon);
        break;
      case OptimizerKind::adadelta:
        adadelta_update(p.value, p.grad, s[0], s[1], p.size, lr, opt_.rho, opt_.epsilon);
        break;
      case OptimizerKind::adamax:
        adamax_update(p.value, p.grad, s[0], s[1], p.size, lr, opt_.beta_1, opt_.beta_2, opt_.epsilon, step);
        break;
      case OptimizerKind::nadam:
        // s[2] is the one u_product every parameter shares: Keras advances it once a step, before the updates.
        if (i == 0) *s[2] = nadam_next_u_product(*s[2], opt_.beta_1, step);
        nadam_update(p.value, p.grad, s[0], s[1], p.size, lr, opt_.beta_1, opt_.beta_2, opt_.epsilon, step, *s[2]);
        break;
      case OptimizerKind::lion:
        lion_update(p.value, p.grad, s[0], p.size, lr, opt_.beta_1, opt_.beta_2);
        break;
    }
  }
  if (!param_constraint_.empty()) apply_constraints();
}

}  // namespace convlite

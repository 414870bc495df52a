// The compiled model behind convlite.Sequential: a chain of layers whose whole training step (forward, loss,
// backward, metrics, optimizer update) runs in one call, so small models pay microseconds of framework overhead
// per batch instead of milliseconds. Parameters live in memory owned by Python (numpy arrays); the model keeps raw
// pointers to them and updates them in place. Activation/gradient buffers are sized once per batch size and reused;
// inference (predict, evaluate, model(x)) sizes only its activations, training adds gradients and scratch.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include "convlite/activation.hpp"
#include "convlite/conv.hpp"
#include "convlite/pool.hpp"
#include "convlite/train.hpp"

namespace convlite {

// Keras's L1 / L2 / L1L2 penalty: l1 * sum|w| + l2 * sum w^2 (both 0 = none).
struct Regularization {
  float l1 = 0.0f, l2 = 0.0f;
  bool active() const { return l1 != 0.0f || l2 != 0.0f; }
};

// A trainable parameter: `value` points into a Python-owned array, `grad` into the layer's own buffer.
struct ParamRef {
  float* value = nullptr;
  float* grad = nullptr;
  std::int64_t size = 0;
  bool trainable = true;  // frozen parameters (layer.trainable = False) keep their values
};

// Per-call state a layer may need (dropout draws its mask from (seed, stream offset)).
struct StepContext {
  bool training = false;
  std::uint64_t seed = 0;
  std::uint64_t step = 0;
};

// One layer of the chain. Sizes are per sample; `batch` is passed to every call.
class ModelLayer {
 public:
  virtual ~ModelLayer() = default;
  virtual std::int64_t in_size() const = 0;
  virtual std::int64_t out_size() const = 0;
  // True when the output is the input reinterpreted (Flatten, Reshape): no buffer, no work.
  virtual bool is_view() const { return false; }
  // True when backward may write dx over dy (elementwise layers): the model then gives both one buffer, so the
  // gradient streams through memory once instead of into a second tensor.
  virtual bool backward_in_place() const { return false; }
  // Sizes the scratch a forward in training mode keeps for its backward (dropout masks, max-pool winners, saved
  // intermediates) for `batch` samples; called before a training pass of a new size. A forward in inference mode
  // needs none, so predict and evaluate never call it (a model loaded to serve predictions holds no training state).
  virtual void reserve_training(std::int64_t batch) { (void)batch; }
  // Bytes that scratch holds now (Model::reserved_bytes).
  virtual std::size_t training_scratch_bytes() const { return 0; }
  // True when a forward in inference mode returns its input unchanged (Dropout): the model then passes the input on
  // as a view outside training, and sizes the layer's output buffer only for training passes.
  virtual bool identity_in_inference() const { return false; }
  virtual void forward(std::int64_t batch, const float* x, float* y, const StepContext& ctx) = 0;
  // dy: dL/dy; writes dx (when not null) and the gradients of params(). Outputs are overwritten.
  virtual void backward(std::int64_t batch, const float* x, const float* y, const float* dy, float* dx) = 0;
  // Activation layers expose their kind so the model can fuse sigmoid/softmax into the loss.
  virtual const ActivationParams* activation() const { return nullptr; }
  // Relu folded into max pooling's backward: the relu derivative at the input a max window picked is the derivative
  // at the window's output (the same float), and the other inputs get no gradient. So a max pooling layer after a
  // layer with a relu epilogue masks its own dy (a quarter of the size for 2x2 windows) by its output, and that
  // layer's backward skips its mask pass over the full-size output (a read of y the size of dz). Bit-identical:
  // both ways keep dz where y > 0 and write +0 elsewhere.
  virtual bool has_relu_epilogue() const { return false; }
  virtual void skip_output_mask() {}                        // dy arrives masked: do not mask again
  virtual bool fold_input_relu_mask() { return false; }    // true: this layer now masks its dy by y > 0
  // Conv + max pooling in one layer (Model::add_layer): a 2x2 / stride 2 max pooling layer offers its geometry; a
  // conv layer that can run a few images at a time takes it over, computing each block's conv output into a
  // per-thread buffer that stays in L2 and pooling it there (the full-size output and its gradient never go to
  // memory); the pooling layer then becomes a view of the conv layer's (pooled) output.
  virtual const Pool2dShape* fusable_max_pool() const { return nullptr; }
  virtual bool absorb_next_max_pool(const Pool2dShape& pool) {
    (void)pool;
    return false;
  }
  virtual void mark_absorbed() {}
  std::vector<ParamRef>& params() { return params_; }
  // activity_regularizer=: a view layer after the regularized layer returns its penalty here; the model adds
  // penalty(output) / batch to the loss and its gradient to the output's gradient.
  virtual const Regularization* activity_regularization() const { return nullptr; }
  // Gives every parameter its gradient buffer (ParamRef::grad), on the first training step: a model that only
  // predicts holds none.
  void allocate_param_grads();
  std::size_t param_grad_bytes() const;

 protected:
  // Registers a parameter (its gradient buffer comes with allocate_param_grads).
  void add_param(float* value, std::int64_t size);
  std::vector<ParamRef> params_;
  std::vector<std::vector<float>> grads_;
};

// ------------------------------------------------------------------ layer factories (per-sample geometry)
// conv2d / depthwise2d: `s.batch` is ignored. Bias may be null.
std::unique_ptr<ModelLayer> make_conv2d_layer(const Conv2dShape& s, const Epilogue& e, float* kernel, float* bias);
std::unique_ptr<ModelLayer> make_depthwise2d_layer(const Conv2dShape& s, const Epilogue& e, float* kernel,
                                                   float* bias);
// SeparableConv: s is the depthwise window with in_c = C, out_c = filters; kernels (kh, kw, C, dm), (C*dm, F).
std::unique_ptr<ModelLayer> make_separable2d_layer(const Conv2dShape& s, std::int64_t depth_multiplier,
                                                   const Epilogue& e, float* depthwise, float* pointwise,
                                                   float* bias);
// Dense on the last axis: `rows` = product of the other per-sample dims.
std::unique_ptr<ModelLayer> make_dense_layer(std::int64_t rows, std::int64_t in, std::int64_t units,
                                             const Epilogue& e, float* kernel, float* bias);
std::unique_ptr<ModelLayer> make_activation_layer(const ActivationParams& p, std::int64_t size,
                                                  std::int64_t last_dim);
std::unique_ptr<ModelLayer> make_view_layer(std::int64_t size);
enum class PoolKind : int { max = 0, average = 1 };
std::unique_ptr<ModelLayer> make_pool2d_layer(PoolKind kind, const Pool2dShape& s);
std::unique_ptr<ModelLayer> make_global_pool_layer(PoolKind kind, std::int64_t spatial, std::int64_t channels);
// spatial = 0: plain dropout over all `size` values; else one draw per (sample, channel).
std::unique_ptr<ModelLayer> make_dropout_layer(float rate, std::int64_t size, std::int64_t spatial,
                                               std::int64_t channels, std::uint64_t seed_salt);
// frozen: always inference mode (Keras runs a non-trainable BatchNormalization with its moving statistics).
std::unique_ptr<ModelLayer> make_batch_norm_layer(std::int64_t spatial, std::int64_t channels, double momentum,
                                                  float epsilon, float* gamma, float* beta, float* moving_mean,
                                                  float* moving_var, bool frozen);
std::unique_ptr<ModelLayer> make_zero_pad_layer(std::int64_t in_h, std::int64_t in_w, std::int64_t channels,
                                                std::int64_t top, std::int64_t bottom, std::int64_t left,
                                                std::int64_t right);
std::unique_ptr<ModelLayer> make_upsample_layer(std::int64_t in_h, std::int64_t in_w, std::int64_t channels,
                                                std::int64_t size_h, std::int64_t size_w);
// layers_noise.cpp. Rescaling: scale and offset per channel (size a multiple of their length). Gaussian noise:
// additive (GaussianNoise, stddev) or multiplicative (GaussianDropout, stddev = sqrt(rate / (1 - rate))).
std::unique_ptr<ModelLayer> make_rescaling_layer(std::int64_t size, std::vector<float> scale,
                                                 std::vector<float> offset);
std::unique_ptr<ModelLayer> make_gaussian_layer(bool multiplicative, float stddev, std::int64_t size,
                                                std::uint64_t salt);

// A view of `size` values per sample that puts Keras's activity penalty on them (regularization.cpp).
std::unique_ptr<ModelLayer> make_activity_regularization_layer(const Regularization& r, std::int64_t size);

// ------------------------------------------------------------------ regularizers and constraints (regularization.cpp)
// Keras's constraints, applied to a parameter of shape `dims` (row-major) after each optimizer update; the norm is
// taken over the axes with reduce[axis] set (Keras's `axis` argument), eps 1e-7 as backend.epsilon().
enum class ConstraintKind : int { max_norm = 0, non_neg = 1, unit_norm = 2, min_max_norm = 3 };
struct ConstraintSpec {
  ConstraintKind kind = ConstraintKind::non_neg;
  float min_value = 0.0f, max_value = 0.0f;
  float rate = 1.0f, one_minus_rate = 0.0f;  // 1 - rate formed in double by Python, as Keras does
  std::vector<std::int64_t> dims;
  std::vector<bool> reduce;
};
// Penalty value (double sums); gradient: g += scale * (l1 * sign(w) + l2 * 2w).
double regularization_penalty(const Regularization& r, const float* w, std::int64_t n);
void add_regularization_gradient(const Regularization& r, const float* w, std::int64_t n, float scale, float* g);
void apply_constraint(const ConstraintSpec& c, float* w, std::int64_t n);

class StepClock;  // model.cpp: the profiler's timer

// Allocates without zero-filling: every buffer the model owns (activations, gradients, the gathered batch) is
// written by a pass before anything reads it, so zero-filling a new batch size's buffers was one more pass over
// memory the first pass overwrites anyway (a memset of 256 MB: 14 ms here; the first-touch page faults, 350 ms for
// 256 MB, remain and now happen inside the pass).
template <class T>
struct UninitializedAllocator : std::allocator<T> {
  template <class U>
  struct rebind {
    using other = UninitializedAllocator<U>;
  };
  UninitializedAllocator() noexcept = default;
  template <class U>
  UninitializedAllocator(const UninitializedAllocator<U>&) noexcept {}
  template <class U>
  void construct(U* p) noexcept {
    ::new (static_cast<void*>(p)) U;  // default-initialization: no value for a float
  }
  template <class U, class... Args>
  void construct(U* p, Args&&... args) {
    ::new (static_cast<void*>(p)) U(std::forward<Args>(args)...);
  }
};
using FloatBuffer = std::vector<float, UninitializedAllocator<float>>;

// ------------------------------------------------------------------ optimizer
// Slots per trainable parameter, in the order of the Python optimizer's slot_arrays(): sgd [velocity];
// adam m, v[, v_hat]; rmsprop velocity[, momentum][, average]; adagrad accumulator; adadelta accumulated_grad,
// accumulated_delta_var; adamax m, u; nadam m, v, u_product (one float shared by every parameter); lion m.
enum class OptimizerKind : int { sgd = 0, adam = 1, rmsprop = 2, adagrad = 3, adadelta = 4, adamax = 5, nadam = 6,
                                 lion = 7 };
struct OptimizerConfig {
  OptimizerKind kind = OptimizerKind::sgd;
  float momentum = 0.0f;  // sgd, rmsprop
  bool nesterov = false;
  // beta_1, beta_2 and rho stay double: Keras forms `1 - beta` in Python double before casting to float32, and
  // 1 - float(0.999) is 1.3e-5 off 0.001 (Adam's v, hence every step, drifted by 6e-6 relative).
  double beta_1 = 0.9, beta_2 = 0.999;
  float epsilon = 1e-7f;
  bool amsgrad = false;
  double rho = 0.9;
  bool centered = false;
  float weight_decay = 0.0f;  // decoupled, applied before the update (Keras 3)
  // Keras applies exactly one: clipnorm (per tensor), else global_clipnorm, else clipvalue. 0 = off.
  float clipnorm = 0.0f, clipvalue = 0.0f, global_clipnorm = 0.0f;
  std::vector<bool> decay_mask;  // per trainable parameter; empty = decay all (when weight_decay > 0)
};

// Accuracy-type metrics computed inside the step (cheap, exact); others are computed in Python from predictions.
enum class AccuracyKind : int { none = 0, binary = 1, categorical = 2, sparse_categorical = 3 };

struct StepResult {
  double loss = 0.0;             // Keras's batch loss (sum_over_batch_size)
  double correct = 0.0;          // sum of sample_weight * accuracy(sample)
  double weight = 0.0;           // sum of sample_weight (the accuracy denominator)
};

// Wall time spent in each part of the training steps run while profiling is on (seconds, summed over steps):
// where a small model's step goes, which is what a speed-up has to start from.
struct StepProfile {
  std::vector<double> forward, backward;  // per layer (views included, at 0)
  double gather = 0.0, loss = 0.0, optimizer = 0.0;
  std::int64_t steps = 0;
};

class Model {
 public:
  void add_layer(std::unique_ptr<ModelLayer> layer);
  std::int64_t input_size() const;
  std::int64_t output_size() const;
  std::size_t num_params() const;
  std::size_t num_layers() const { return layers_.size(); }
  // One flag per parameter in layer order; the optimizer then has slots for the trainable ones only.
  void set_trainable(const std::vector<bool>& flags);
  std::size_t num_trainable() const;

  // label_size: values per sample of y (1 for sparse labels).
  void set_loss(const LossParams& loss, std::int64_t label_size);
  // compile(loss_weights=w): the loss and its gradient are scaled by w (Keras's weighted sum over one output).
  void set_loss_weight(float weight) { loss_weight_ = weight; }
  void set_accuracy(AccuracyKind kind, float threshold) { accuracy_ = kind; threshold_ = threshold; }
  // slots[i]: the optimizer state buffers of trainable parameter i, in the order the kind needs:
  // sgd [velocity] (if momentum), adam [m, v, (v_hat)], rmsprop [velocity, (momentum), (average_grad)].
  void set_optimizer(const OptimizerConfig& config, std::vector<std::vector<float*>> slots);
  void set_seed(std::uint64_t seed) { seed_ = seed; }
  // Forward FLOPs per sample (from the Python layers): steps below kSerialStepFlops run on one thread.
  void set_forward_flops_per_sample(double flops) { forward_flops_ = flops; }

  // Rows index[0..count) of x (n_rows, input_size) / y / sample_weight (may be null) form the batch.
  // `step` is the optimizer's 1-based step; `dropout_step` numbers the random stream.
  StepResult train_step(const float* x, const float* y, const float* sample_weight, const std::int64_t* index,
                        std::int64_t count, float learning_rate, std::int64_t step, std::uint64_t dropout_step,
                        float* predictions_out);
  StepResult test_step(const float* x, const float* y, const float* sample_weight, const std::int64_t* index,
                       std::int64_t count, float* predictions_out);
  // Inference over n contiguous rows in chunks of batch_size; out is (n, output_size).
  void predict(const float* x, std::int64_t n, std::int64_t batch_size, float* out);
  // model(x, training=True): one forward pass over all n rows as one batch in training mode, as Keras's call does
  // (dropout draws its mask from dropout_step, batch normalization uses and folds in the batch statistics).
  void forward_training(const float* x, std::int64_t n, std::uint64_t dropout_step, float* out);

  // What the model's buffers hold now, in bytes: the activations of an inference pass, the copy of a batch's rows
  // that train/test steps gather (input, labels, sample weights), and what only training needs (gradients, training
  // scratch of the layers, activations an inference pass skips). predict allocates only the first.
  struct ReservedBytes {
    std::size_t activations = 0, batch_copy = 0, training = 0;
  };
  ReservedBytes reserved_bytes() const;

  // Profiling times every part of train_step (wall clock, or the calling thread's CPU time); turning it on (or
  // off) clears what was gathered.
  void set_profiling(bool on, bool thread_cpu = false);
  const StepProfile& profile() const { return profile_; }

  // Parameter `index` (layer order, as set_trainable) gets a weight penalty / a constraint.
  void set_param_regularization(std::size_t index, const Regularization& r);
  void set_param_constraint(std::size_t index, ConstraintSpec c);

 private:
  void reserve(std::int64_t batch);  // everything a training step needs: the three below and the gradients
  void reserve_forward(std::int64_t batch, bool training);  // activations (+ training scratch when training)
  void reserve_batch_copy(std::int64_t batch);              // acts_[0], batch_y_, batch_w_ (train/test steps)
  bool skipped_in_inference(std::size_t layer) const;       // output is the input in inference: no buffer
  std::int64_t stored_size(std::size_t layer) const;        // floats per sample in the layer's output buffer
  std::int64_t predict_chunk(std::int64_t n, std::int64_t batch_size) const;  // rows per forward pass in predict
  void gather(const float* src, std::int64_t width, const std::int64_t* index, std::int64_t count, float* dst) const;
  const float* forward(std::int64_t batch, const float* input, const StepContext& ctx, StepClock* clock = nullptr);
  StepResult loss_and_metrics(std::int64_t batch, const float* y, const float* sw, bool want_grad);
  void apply_optimizer(float learning_rate, std::int64_t step);
  bool fused_loss() const;
  // The step's added losses (Keras's model.losses): penalties of trainable weights plus activity penalties of the
  // current forward pass. Their gradients join in backward (add_activity_gradient, into the activations' gradients)
  // and after it (add_weight_penalty_gradients, into the parameter gradients the layers have just written).
  double added_losses(std::int64_t batch);
  void add_weight_penalty_gradients();
  void add_activity_gradient(std::size_t layer, std::int64_t batch);
  // The last layer looking through trailing activity-regularization views: the activation a fused loss takes the
  // logits of. Penalties on its output reach the logits' gradient through its own backward.
  std::size_t output_activation_index() const;
  void add_output_activity_gradient(std::int64_t batch);
  void apply_constraints();

  std::vector<std::unique_ptr<ModelLayer>> layers_;
  std::vector<FloatBuffer> acts_, grads_;  // owned buffers; index i = output of layer i-1 (0 = input)
  std::vector<const float*> act_ptr_;
  std::vector<float*> grad_ptr_;
  FloatBuffer batch_y_, batch_w_;
  std::int64_t reserved_batch_ = -1;  // batch size the inference activations are sized for
  std::int64_t training_forward_batch_ = -1, gradient_batch_ = -1;
  LossParams loss_{};
  std::int64_t label_size_ = 1;
  float loss_weight_ = 1.0f;
  AccuracyKind accuracy_ = AccuracyKind::none;
  float threshold_ = 0.5f;
  OptimizerConfig opt_{};
  std::vector<std::vector<float*>> slots_;
  std::uint64_t seed_ = 0;
  double forward_flops_ = 0.0;
  bool profiling_ = false, profile_thread_cpu_ = false;
  StepProfile profile_;
  // Per parameter (layer order), sized on first use: empty = no parameter has one, and the step skips the loop.
  std::vector<Regularization> param_regularization_;
  std::vector<std::optional<ConstraintSpec>> param_constraint_;
  std::vector<std::size_t> activity_layers_;  // indices of layers with activity_regularization()
  std::vector<float> activity_dy_, activity_dx_;  // add_output_activity_gradient's scratch
};

}  // namespace convlite

// Training pieces: losses (with gradients), optimizer updates, batch normalization and dropout.
#pragma once
#include <cstdint>

namespace convlite {

// ------------------------------------------------------------------ losses
enum class LossKind : int {
  binary_crossentropy = 0, categorical_crossentropy, sparse_categorical_crossentropy, mse, mae, huber
};
struct LossParams {
  LossKind kind = LossKind::mse;
  bool from_logits = false;
  float label_smoothing = 0.0f;
  float huber_delta = 1.0f;
};
// pred: (batch, features). target: (batch, features), or (batch,) class indices stored as float for the sparse
// loss. sample_weight: (batch,) or null. Returns Keras's sum_over_batch_size loss: sum_i w_i * loss_i / batch.
// grad (batch, features), if not null, receives dLoss/dpred. Probabilities are clipped to [1e-7, 1 - 1e-7].
double loss_forward_backward(const LossParams& p, std::int64_t batch, std::int64_t features, const float* pred,
                             const float* target, const float* sample_weight, float* grad);

// ------------------------------------------------------------------ optimizers (Keras 3 formulas, one fused pass)
// step is 1-based (Keras's iterations + 1). Buffers are zero-initialised by the caller.
// beta_1, beta_2 and rho are double because Keras forms `1 - beta` in Python double before casting to float32:
// 1 - float(0.999) is 1.3e-5 away (relative) from float(1 - 0.999), enough to drift from Keras within 20 steps.
void sgd_update(float* param, const float* grad, float* velocity /*null when momentum == 0*/, std::int64_t n,
                float learning_rate, float momentum, bool nesterov);
void adam_update(float* param, const float* grad, float* m, float* v, float* v_hat /*amsgrad, else null*/,
                 std::int64_t n, float learning_rate, double beta_1, double beta_2, float epsilon, std::int64_t step);
void rmsprop_update(float* param, const float* grad, float* velocity, float* momentum_buf /*null if momentum==0*/,
                    float* average_grad /*centered, else null*/, std::int64_t n, float learning_rate, double rho,
                    float momentum, float epsilon);
// The other Keras 3 optimizers. Where Keras multiplies by a Python float (Adadelta's rho, Adamax's beta_2) that
// float becomes float32; `1 - x` of a Python float is formed in double (Adadelta, Adamax's beta_1); Nadam and Lion
// cast their betas to float32 first and form `1 - beta` in float32.
// Adagrad: accumulator starts at initial_accumulator_value (the caller's job).
void adagrad_update(float* param, const float* grad, float* accumulator, std::int64_t n, float learning_rate,
                    float epsilon);
void adadelta_update(float* param, const float* grad, float* accumulated_grad, float* accumulated_delta,
                     std::int64_t n, float learning_rate, double rho, float epsilon);
void adamax_update(float* param, const float* grad, float* m, float* u, std::int64_t n, float learning_rate,
                   double beta_1, double beta_2, float epsilon, std::int64_t step);
// Nadam keeps one scalar besides m and v: u_product (1.0 at build). Keras advances it once per optimizer step,
// before any variable's update: u_product *= beta_1 * (1 - 0.5 * 0.96^step), in float32. nadam_update takes the
// value already advanced for `step`.
float nadam_next_u_product(float u_product, double beta_1, std::int64_t step);
void nadam_update(float* param, const float* grad, float* m, float* v, std::int64_t n, float learning_rate,
                  double beta_1, double beta_2, float epsilon, std::int64_t step, float u_product);
void lion_update(float* param, const float* grad, float* m, std::int64_t n, float learning_rate, double beta_1,
                 double beta_2);
// Decoupled weight decay as Keras applies it before the update: param -= param * weight_decay * learning_rate.
void apply_weight_decay(float* param, std::int64_t n, float learning_rate, float weight_decay);
// Clipping helpers for clipnorm / clipvalue / global_clipnorm.
double sum_of_squares(const float* x, std::int64_t n);
void scale_in_place(float* x, std::int64_t n, float factor);
void clip_in_place(float* x, std::int64_t n, float low, float high);

// ------------------------------------------------------------------ batch normalization (channels_last)
// x: (rows, channels) where rows = batch * spatial. Training uses batch statistics (biased variance), writes
// y, the saved mean and inverse std for the backward, and updates the moving statistics
// (moving = moving * momentum + batch * (1 - momentum), 1 - momentum formed in double as Keras does).
// Inference uses the moving statistics.
void batch_norm_forward_training(std::int64_t rows, std::int64_t channels, const float* x, const float* gamma,
                                 const float* beta, float* moving_mean, float* moving_var, double momentum,
                                 float epsilon, float* y, float* saved_mean, float* saved_inv_std);
void batch_norm_forward_inference(std::int64_t rows, std::int64_t channels, const float* x, const float* gamma,
                                  const float* beta, const float* moving_mean, const float* moving_var,
                                  float epsilon, float* y);
// gamma/beta may be null (center=False / scale=False); dgamma/dbeta likewise.
void batch_norm_backward(std::int64_t rows, std::int64_t channels, const float* x, const float* gamma,
                         const float* saved_mean, const float* saved_inv_std, const float* dy, float* dx,
                         float* dgamma, float* dbeta);

// Backward of the inference form (fixed moving statistics: Keras's BatchNormalization with training=False, or a
// frozen layer): dx = dy * gamma / sqrt(moving_var + epsilon); dgamma = sum dy * xhat and dbeta = sum dy when
// not null (x and moving_mean are read only for dgamma).
void batch_norm_backward_inference(std::int64_t rows, std::int64_t channels, const float* x, const float* gamma,
                                   const float* moving_mean, const float* moving_var, float epsilon, const float* dy,
                                   float* dx, float* dgamma, float* dbeta);

// ------------------------------------------------------------------ dropout
// Counter-based random stream: element i of call (seed, offset) is kept iff uniform(seed, offset + i) >= rate;
// the same seed gives the same mask whatever the thread count. Kept units are scaled by 1 / (1 - rate).
// mask (n bytes: 1 kept, 0 dropped) is written for the backward. Spatial dropout: one draw per
// (batch, channel), broadcast over `spatial` positions (x is (batch, spatial, channels)).
void dropout_forward(std::int64_t n, float rate, std::uint64_t seed, std::uint64_t offset, const float* x, float* y,
                     std::uint8_t* mask);
void spatial_dropout_forward(std::int64_t batch, std::int64_t spatial, std::int64_t channels, float rate,
                             std::uint64_t seed, std::uint64_t offset, const float* x, float* y, std::uint8_t* mask);
// dx = dy * mask / (1 - rate); for spatial dropout mask is (batch, channels).
void dropout_backward(std::int64_t n, float rate, const std::uint8_t* mask, const float* dy, float* dx);
void spatial_dropout_backward(std::int64_t batch, std::int64_t spatial, std::int64_t channels, float rate,
                              const std::uint8_t* mask, const float* dy, float* dx);

}  // namespace convlite

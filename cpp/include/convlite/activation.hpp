// Elementwise activations, forward and backward. Semantics are Keras 3's (keras.activations), including the
// gradients TensorFlow's autodiff gives at the boundaries.
#pragma once
#include <cstdint>

namespace convlite {

// keras.activations.relu(x, negative_slope, max_value, threshold); has_max_value=false means max_value=None.
struct ReluParams {
  float negative_slope = 0.0f;
  float max_value = 0.0f;
  float threshold = 0.0f;
  bool has_max_value = false;
};

void relu_forward(const float* x, float* y, std::int64_t n, const ReluParams& p);
// dx = dy * relu'(x), with x the forward input.
void relu_backward(const float* x, const float* dy, float* dx, std::int64_t n, const ReluParams& p);

}  // namespace convlite

namespace convlite {

// Every activation convlite's layers accept by name (keras.activations). Softmax and log_softmax act on the last
// axis of length `last_dim`; the others are elementwise.
enum class ActivationKind : int {
  linear = 0, relu, leaky_relu, elu, selu, gelu, gelu_tanh, silu, sigmoid, hard_sigmoid, tanh, softplus,
  softsign, exponential, relu6, softmax, log_softmax
};

struct ActivationParams {
  ActivationKind kind = ActivationKind::linear;
  ReluParams relu;      // relu
  float alpha = 0.2f;   // leaky_relu slope (the function's default 0.2), elu alpha (default 1.0)
};

// y = f(x) over n values (n a multiple of last_dim for softmax/log_softmax).
void activation_forward(const ActivationParams& p, const float* x, float* y, std::int64_t n,
                        std::int64_t last_dim);
// dx = dy * f'(x). Takes both the forward input x and output y: each kind uses whichever is cheaper and exact
// (softmax needs y; gelu needs x). dx may alias dy.
void activation_backward(const ActivationParams& p, const float* x, const float* y, const float* dy, float* dx,
                         std::int64_t n, std::int64_t last_dim);
// Which forward tensors activation_backward reads for `kind` (the other pointer may be null).
bool activation_backward_needs_x(ActivationKind kind);
bool activation_backward_needs_y(ActivationKind kind);

}  // namespace convlite

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

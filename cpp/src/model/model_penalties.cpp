// The compiled model's regularizers and constraints (Keras's model.losses and variable constraints): which
// parameter has which, the penalties added to the loss, their gradients, and the constraints applied after each
// update. The per-kind arithmetic is in regularization.cpp; this file is the Model's bookkeeping around it (split from
// model.cpp, which keeps the step itself).
#include <cstddef>
#include <stdexcept>
#include <string>
#include <utility>

#include "convlite/model.hpp"

namespace convlite {

void Model::set_param_regularization(std::size_t index, const Regularization& r) {
  if (index >= num_params())
    throw std::invalid_argument("Parameter index out of range. Received: index=" + std::to_string(index));
  param_regularization_.resize(num_params());
  param_regularization_[index] = r;
}

void Model::set_param_constraint(std::size_t index, ConstraintSpec c) {
  if (index >= num_params())
    throw std::invalid_argument("Parameter index out of range. Received: index=" + std::to_string(index));
  std::size_t k = index;
  const ParamRef* p = nullptr;
  for (auto& l : layers_) {
    if (k < l->params().size()) {
      p = &l->params()[k];
      break;
    }
    k -= l->params().size();
  }
  std::int64_t size = 1;
  for (std::int64_t d : c.dims) size *= d;
  if (size != p->size || c.reduce.size() != c.dims.size())
    throw std::invalid_argument("A constraint's shape must match its parameter's " + std::to_string(p->size) +
                                " values. Received: " + std::to_string(size) + " values");
  param_constraint_.resize(num_params());
  param_constraint_[index] = std::move(c);
}

// Keras's compute_loss adds model.losses to the compiled loss unscaled by loss_weights: the penalties of trainable
// weights (Layer._get_regularization_losses skips frozen ones) and each activity penalty divided by the batch size.
double Model::added_losses(std::int64_t batch) {
  double total = 0.0;
  if (!param_regularization_.empty()) {
    std::size_t k = 0;
    for (auto& l : layers_)
      for (auto& p : l->params()) {
        const Regularization& r = param_regularization_[k++];
        if (p.trainable && r.active()) total += regularization_penalty(r, p.value, p.size);
      }
  }
  for (std::size_t i : activity_layers_) {
    const Regularization& r = *layers_[i]->activity_regularization();
    const std::int64_t size = batch * layers_[i]->out_size();
    const auto penalty = static_cast<float>(regularization_penalty(r, act_ptr_[i + 1], size));
    total += static_cast<double>(penalty / static_cast<float>(batch));
  }
  return total;
}

// Before clipping and the update, as the penalty is part of the loss Keras differentiates.
void Model::add_weight_penalty_gradients() {
  std::size_t k = 0;
  for (auto& l : layers_)
    for (auto& p : l->params()) {
      const Regularization& r = param_regularization_[k++];
      if (p.trainable && r.active()) add_regularization_gradient(r, p.value, p.size, 1.0f, p.grad);
    }
}

// Before the layer below an activity regularizer reads its output's gradient: add d(penalty / batch)/d(output).
void Model::add_activity_gradient(std::size_t layer, std::int64_t batch) {
  const Regularization* r = layers_[layer]->activity_regularization();
  float* g = grad_ptr_[layer + 1];
  if (!r || !g || layer == 0 || !grad_ptr_[layer]) return;  // nothing below it learns
  add_regularization_gradient(*r, act_ptr_[layer + 1], batch * layers_[layer]->out_size(),
                              1.0f / static_cast<float>(batch), g);
}

// Keras takes the loss from the logits even with an activity penalty on the sigmoid / softmax output: the penalties
// gradient w.r.t. that output goes back through the activation's own backward and joins the logits' gradient.
std::size_t Model::output_activation_index() const {
  std::size_t a = layers_.size() - 1;
  while (a > 0 && layers_[a]->activity_regularization()) --a;
  return a;
}

void Model::add_output_activity_gradient(std::int64_t batch) {
  const std::size_t a = output_activation_index();
  float* dz = grad_ptr_[a];
  if (!dz) return;
  const auto size = static_cast<std::size_t>(batch * layers_[a]->out_size());
  activity_dy_.assign(size, 0.0f);
  activity_dx_.resize(size);
  for (std::size_t i = a + 1; i < layers_.size(); ++i)
    add_regularization_gradient(*layers_[i]->activity_regularization(), act_ptr_[i + 1],
                                static_cast<std::int64_t>(size), 1.0f / static_cast<float>(batch),
                                activity_dy_.data());
  layers_[a]->backward(batch, act_ptr_[a], act_ptr_[a + 1], activity_dy_.data(), activity_dx_.data());
  for (std::size_t i = 0; i < size; ++i) dz[i] += activity_dx_[i];
}

// Keras's optimizer.apply: after the update, each trainable variable with a constraint is replaced by its projection.
void Model::apply_constraints() {
  std::size_t k = 0;
  for (auto& l : layers_)
    for (auto& p : l->params()) {
      const std::optional<ConstraintSpec>& c = param_constraint_[k++];
      if (p.trainable && c) apply_constraint(*c, p.value, p.size);
    }
}

}  // namespace convlite

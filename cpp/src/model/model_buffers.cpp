// Model buffer planning: which buffers a pass needs and when they are sized. Inference (predict, evaluate,
// model(x)) sizes only the activations it writes; a forward in training mode adds the layers' scratch for backward
// and the outputs of layers that are the identity in inference (Dropout); a training step adds the gradients.
#include "convlite/model.hpp"

namespace convlite {

namespace {
// Gives v room for `size` elements, freeing the old storage first: growing from one batch size to a larger one
// never holds both (a copy of contents that every pass overwrites would be wasted too).
void grow(FloatBuffer& v, std::size_t size) {
  if (v.size() >= size) return;
  FloatBuffer().swap(v);
  v.resize(size);
}
std::size_t bytes_of(const FloatBuffer& v) { return v.capacity() * sizeof(float); }
}  // namespace

bool Model::skipped_in_inference(std::size_t layer) const {
  return layers_[layer]->is_view() || layers_[layer]->identity_in_inference();
}

// Floats per sample that layer i's output buffer holds: the output of the views after it, which reinterpret it.
// The same as out_size() except for a conv that absorbed the max pooling after it, whose buffer holds the pooled
// output (a quarter of the conv's size for 2x2 windows).
std::int64_t Model::stored_size(std::size_t i) const {
  while (i + 1 < layers_.size() && layers_[i + 1]->is_view()) ++i;
  return layers_[i]->out_size();
}

// Inference needs one output buffer per layer that computes something; training also needs the outputs of layers
// that are the identity in inference (Dropout) and the layers' scratch for backward. Each part is sized on first
// need and grows with the batch, so predict never allocates what only training uses.
void Model::reserve_forward(std::int64_t batch, bool training) {
  const std::size_t n = layers_.size();
  acts_.resize(n + 1);
  act_ptr_.resize(n + 1, nullptr);
  if (batch > reserved_batch_) {
    for (std::size_t i = 0; i < n; ++i)
      if (!skipped_in_inference(i)) grow(acts_[i + 1], static_cast<std::size_t>(batch * stored_size(i)));
    reserved_batch_ = batch;
  }
  if (training && batch > training_forward_batch_) {
    for (std::size_t i = 0; i < n; ++i) {
      layers_[i]->reserve_training(batch);
      if (!layers_[i]->is_view() && layers_[i]->identity_in_inference())
        grow(acts_[i + 1], static_cast<std::size_t>(batch * stored_size(i)));
    }
    training_forward_batch_ = batch;
  }
}

// Sized from the sizes themselves, not a remembered batch: set_loss may change the label size between steps.
void Model::reserve_batch_copy(std::int64_t batch) {
  acts_.resize(layers_.size() + 1);
  grow(acts_[0], static_cast<std::size_t>(batch * input_size()));
  grow(batch_y_, static_cast<std::size_t>(batch * label_size_));
  grow(batch_w_, static_cast<std::size_t>(batch));
}

void Model::reserve(std::int64_t batch) {
  reserve_forward(batch, true);
  reserve_batch_copy(batch);
  for (auto& l : layers_) l->allocate_param_grads();
  if (batch <= gradient_batch_) return;
  const std::size_t n = layers_.size();
  // Which buffer holds the gradient of activation k (-1: none). A view (and an elementwise layer whose backward
  // runs in place) passes its output's gradient buffer down. Only layers after the first one with parameters need
  // their dx (nothing before it learns). Only the buffers some gradient lands in are allocated.
  bool earlier_params = false;
  std::vector<bool> need_dx(n, false);
  for (std::size_t i = 0; i < n; ++i) {
    need_dx[i] = earlier_params;
    earlier_params = earlier_params || !layers_[i]->params().empty();
  }
  std::vector<std::ptrdiff_t> holder(n + 1, -1);
  holder[n] = static_cast<std::ptrdiff_t>(n);
  for (std::size_t i = n; i-- > 0;) {
    if (layers_[i]->is_view() || (layers_[i]->backward_in_place() && i > 0 && need_dx[i]))
      holder[i] = holder[i + 1];
    else if (i > 0 && need_dx[i])
      holder[i] = static_cast<std::ptrdiff_t>(i);
  }
  grads_.resize(n + 1);
  grad_ptr_.assign(n + 1, nullptr);
  for (std::size_t k = 1; k <= n; ++k)
    if (holder[k] == static_cast<std::ptrdiff_t>(k))
      grow(grads_[k], static_cast<std::size_t>(batch * layers_[k - 1]->out_size()));
  for (std::size_t k = 0; k <= n; ++k)  // after every buffer has its storage
    if (n > 0 && holder[k] >= 0) grad_ptr_[k] = grads_[static_cast<std::size_t>(holder[k])].data();
  gradient_batch_ = batch;
}

Model::ReservedBytes Model::reserved_bytes() const {
  ReservedBytes r;
  for (std::size_t i = 0; i < acts_.size(); ++i) {
    if (i == 0)
      r.batch_copy += bytes_of(acts_[0]);
    else if (skipped_in_inference(i - 1))
      r.training += bytes_of(acts_[i]);
    else
      r.activations += bytes_of(acts_[i]);
  }
  r.batch_copy += bytes_of(batch_y_) + bytes_of(batch_w_);
  for (const auto& g : grads_) r.training += bytes_of(g);
  for (const auto& l : layers_) r.training += l->training_scratch_bytes() + l->param_grad_bytes();
  return r;
}

}  // namespace convlite

#include "model/conv_pool_fusion.hpp"

#include <algorithm>

#include "convlite/parallel.hpp"

namespace convlite {
namespace {

// One block's full-size conv output (forward) or its gradient (backward), per thread and grow-only: after the
// first step every block reuses the same memory, which stays in L2 (not a gemm::workspace slot: the conv ops
// called on it use those themselves).
float* block_buffer(std::int64_t floats) {
  thread_local std::vector<float> buffer;
  if (static_cast<std::int64_t>(buffer.size()) < floats) buffer.resize(static_cast<std::size_t>(floats));
  return buffer.data();
}

// About 170 KB of conv output per block, at most 8 images: it stays in a Zen3 core's 512 KB L2 with the input and
// the pooled rows (MNIST's first conv, 26x26x32: 2 images).
constexpr std::int64_t kBlockBytes = 176 * 1024;
constexpr std::int64_t kMaxImagesPerBlock = 8;

}  // namespace

std::unique_ptr<ConvPoolFusion> ConvPoolFusion::make(const Conv2dShape& conv, const Epilogue& epilogue,
                                                     const Pool2dShape& pool) {
  if (epilogue.activation != FusedActivation::relu && epilogue.activation != FusedActivation::none) return nullptr;
  if (pool.in_h != conv.out_h || pool.in_w != conv.out_w || pool.channels != conv.out_c) return nullptr;
  const std::int64_t conv_bytes = 4 * conv.out_h * conv.out_w * conv.out_c;
  const std::int64_t per_block = std::clamp<std::int64_t>(kBlockBytes / std::max<std::int64_t>(conv_bytes, 1), 1,
                                                          kMaxImagesPerBlock);
  Conv2dShape block = conv;
  block.batch = per_block;
  Pool2dShape pooled = pool;
  pooled.batch = per_block;
  if (!conv2d_is_direct(block) || !max_pool2d_window_code_applies(pooled)) return nullptr;
  return std::unique_ptr<ConvPoolFusion>(new ConvPoolFusion(conv, epilogue, pool, per_block));
}

ConvPoolFusion::ConvPoolFusion(const Conv2dShape& conv, const Epilogue& epilogue, const Pool2dShape& pool,
                               std::int64_t images_per_block)
    : conv_(conv),
      epilogue_(epilogue),
      pool_(pool),
      images_per_block_(images_per_block),
      in_size_(conv.in_h * conv.in_w * conv.in_c),
      conv_size_(conv.out_h * conv.out_w * conv.out_c),
      pooled_size_(pool.out_h * pool.out_w * pool.channels),
      kernel_size_(conv.kernel_h * conv.kernel_w * conv.in_c * conv.out_c) {}

void ConvPoolFusion::reserve_training(std::int64_t batch) {
  const auto codes = static_cast<std::size_t>(batch * pooled_size_);
  const auto partials = static_cast<std::size_t>(blocks(batch) * (kernel_size_ + conv_.out_c));
  if (code_.size() < codes) code_.resize(codes);
  if (partial_.size() < partials) partial_.resize(partials);
}

ConvPoolFusion::Block ConvPoolFusion::block(std::int64_t batch, std::int64_t b) const {
  Block k{b * images_per_block_, conv_, pool_};
  k.conv.batch = k.pool.batch = std::min(images_per_block_, batch - k.first);
  return k;
}

double ConvPoolFusion::block_flops() const {
  return 2.0 * static_cast<double>(images_per_block_ * conv_size_) *
         static_cast<double>(conv_.kernel_h * conv_.kernel_w * conv_.in_c);
}

void ConvPoolFusion::forward(std::int64_t batch, const float* x, const float* w, const float* bias, float* pooled,
                             bool training) {
  parallel_for(blocks(batch), block_flops(), [&](std::int64_t b0, std::int64_t b1) {
    float* conv_y = block_buffer(images_per_block_ * conv_size_);
    for (std::int64_t b = b0; b < b1; ++b) {
      const Block k = block(batch, b);
      conv2d_forward(k.conv, x + k.first * in_size_, w, bias, conv_y, epilogue_);
      float* out = pooled + k.first * pooled_size_;
      if (training)
        max_pool2d_forward_code(k.pool, conv_y, out, code_.data() + k.first * pooled_size_);
      else
        max_pool2d_forward(k.pool, conv_y, out, nullptr);
    }
  });
}

void ConvPoolFusion::backward(std::int64_t batch, const float* x, const float* w, const float* pooled,
                              const float* dy, float* dx, float* dw, float* db) {
  const std::int64_t count = blocks(batch), stride = kernel_size_ + conv_.out_c;
  if (count == 0) {  // an empty batch: zero gradients, as conv2d_backward gives
    if (dw) std::fill(dw, dw + kernel_size_, 0.0f);
    if (db) std::fill(db, db + conv_.out_c, 0.0f);
    return;
  }
  const bool relu = epilogue_.activation == FusedActivation::relu;
  parallel_for(count, 2.0 * block_flops(), [&](std::int64_t b0, std::int64_t b1) {
    float* dz = block_buffer(images_per_block_ * conv_size_);
    for (std::int64_t b = b0; b < b1; ++b) {
      const Block k = block(batch, b);
      const std::int64_t pooled_at = k.first * pooled_size_;
      // The relu's derivative folded into the scatter (ModelLayer::fold_input_relu_mask): dz counts dy only where
      // the pooled output, the winner's value, is positive; the conv backward then applies no mask.
      max_pool2d_backward_code(k.pool, code_.data() + pooled_at, dy + pooled_at, dz,
                               relu ? pooled + pooled_at : nullptr);
      float* block_dw = partial_.data() + b * stride;
      conv2d_backward(k.conv, x + k.first * in_size_, w, nullptr, dz, dx ? dx + k.first * in_size_ : nullptr,
                      dw ? block_dw : nullptr, db ? block_dw + kernel_size_ : nullptr, epilogue_);
    }
  });
  const auto sum_blocks = [&](float* out, std::int64_t offset, std::int64_t size) {
    std::copy(partial_.data() + offset, partial_.data() + offset + size, out);
    for (std::int64_t b = 1; b < count; ++b) {
      const float* part = partial_.data() + b * stride + offset;
      for (std::int64_t k = 0; k < size; ++k) out[k] += part[k];
    }
  };
  if (dw) sum_blocks(dw, 0, kernel_size_);
  if (db) sum_blocks(db, kernel_size_, conv_.out_c);
}

}  // namespace convlite

// Conv + relu + 2x2 / stride 2 max pooling as one model layer (ModelLayer::fusable_max_pool). The unfused pair
// writes the conv's full-size output, reads it back to pool it, and in backward scatters the pooled gradient into a
// full-size dz (three quarters zeros) that the weight gradient reads again: for the Keras MNIST convnet's first
// block, about 22 MB of memory traffic per step of 64 images. Fused, a block of a few images at a time goes
// through the same ops with the full-size tensor in a per-thread buffer that stays in L2.
#pragma once
#include <cstdint>
#include <memory>
#include <vector>

#include "convlite/conv.hpp"
#include "convlite/pool.hpp"

namespace convlite {

class ConvPoolFusion {
 public:
  // Null unless the conv runs the direct kernels (conv2d_is_direct) with a relu or no activation, and the pooling
  // is the window-code route over exactly the conv's output.
  static std::unique_ptr<ConvPoolFusion> make(const Conv2dShape& conv, const Epilogue& epilogue,
                                              const Pool2dShape& pool);
  // The window codes and per-block weight-gradient sums of a training step (inference needs neither).
  void reserve_training(std::int64_t batch);
  std::size_t training_scratch_bytes() const { return code_.capacity() + partial_.capacity() * sizeof(float); }
  // pooled: (batch, pool out_h, out_w, channels). Training keeps the window codes for backward.
  void forward(std::int64_t batch, const float* x, const float* w, const float* bias, float* pooled, bool training);
  // dy is the gradient of the pooled output; dx may be null. dw and db (may be null) are overwritten: per-block
  // sums (each bit-identical for any thread count) added in block order, so the result depends on the batch alone.
  void backward(std::int64_t batch, const float* x, const float* w, const float* pooled, const float* dy, float* dx,
                float* dw, float* db);

 private:
  ConvPoolFusion(const Conv2dShape& conv, const Epilogue& epilogue, const Pool2dShape& pool,
                 std::int64_t images_per_block);
  std::int64_t blocks(std::int64_t batch) const { return (batch + images_per_block_ - 1) / images_per_block_; }
  // Block b of a batch: its first image and the conv and pooling geometry of its (at most images_per_block_) images.
  struct Block {
    std::int64_t first;
    Conv2dShape conv;
    Pool2dShape pool;
  };
  Block block(std::int64_t batch, std::int64_t b) const;
  // One full block's conv FLOPs (the threading cost of a forward block; a backward block does twice as many).
  double block_flops() const;

  Conv2dShape conv_;
  Epilogue epilogue_;
  Pool2dShape pool_;
  std::int64_t images_per_block_;
  std::int64_t in_size_, conv_size_, pooled_size_, kernel_size_;
  std::vector<std::uint8_t> code_;
  std::vector<float> partial_;  // per block: dw then db
};

}  // namespace convlite

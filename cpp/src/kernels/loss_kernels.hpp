// The loss family's kernel tables. In a model, losses touch batch x classes values, a few kilobytes next to the
// network's megabytes, so the scalar table (double throughout: stable log-sum-exp, exact clipping masks) defines
// every loss. The AVX2 table speeds up only the one that grows with the data on its own — categorical / sparse
// cross-entropy from logits over many classes (8192 x 256 logits took 12 ms, twice TensorFlow's fused op) — and
// hands every other case to the scalar table.
#pragma once
#include <cstdint>

#include "convlite/train.hpp"

namespace convlite {

struct LossKernels {
  // One sample: returns its loss (Keras's per-sample value: mean over features, or the sum over classes for the
  // categorical losses) and, if grad is not null, writes grad_scale * dloss/dpred for the row.
  // target: the row of targets, or a pointer to the sample's class id (stored as float) for the sparse loss.
  double (*row)(const LossParams& p, std::int64_t features, const float* pred, const float* target,
                double grad_scale, float* grad);
};

const LossKernels& loss_kernels_scalar();
#if defined(CONVLITE_HAVE_AVX2)
const LossKernels& loss_kernels_avx2();
#endif

}  // namespace convlite

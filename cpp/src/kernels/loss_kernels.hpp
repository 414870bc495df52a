// The loss family's kernel table. Losses touch batch x classes values, a few kilobytes next to the network's
// megabytes, so only a scalar table exists: it computes in double (stable log-sum-exp, exact clipping masks) and a
// SIMD version would buy nothing measurable while making the exp/log approximation part of the semantics.
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

}  // namespace convlite

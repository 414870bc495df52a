// Loss driver: rows in parallel (each row independent), per-row losses reduced in row order on the calling
// thread so the value is bit-identical for any thread count.
#include <vector>

#include "convlite/dispatch.hpp"
#include "convlite/parallel.hpp"
#include "convlite/train.hpp"
#include "kernels/loss_kernels.hpp"

namespace convlite {
namespace {

const LossKernels& kernels() {
  switch (active_isa()) {
#if defined(CONVLITE_HAVE_AVX2)
    case Isa::avx512:  // no AVX-512 table: its CPUs run the AVX2 one
    case Isa::avx2: return loss_kernels_avx2();
#endif
    default: return loss_kernels_scalar();
  }
}

}  // namespace

double loss_forward_backward(const LossParams& p, std::int64_t batch, std::int64_t features, const float* pred,
                             const float* target, const float* sample_weight, float* grad) {
  if (batch <= 0 || features <= 0) return 0.0;  // Keras's divide_no_nan: an empty batch has loss 0
  const auto& k = kernels();
  const bool sparse = p.kind == LossKind::sparse_categorical_crossentropy;
  const std::int64_t target_stride = sparse ? 1 : features;
  std::vector<double> per_row(static_cast<size_t>(batch));
  const double inv_batch = 1.0 / static_cast<double>(batch);
  parallel_for(batch, 30.0 * static_cast<double>(features), [&](std::int64_t r0, std::int64_t r1) {
    for (std::int64_t r = r0; r < r1; ++r) {
      const double w = sample_weight ? sample_weight[r] : 1.0;
      per_row[r] = w * k.row(p, features, pred + r * features, target + r * target_stride, w * inv_batch,
                             grad ? grad + r * features : nullptr);
    }
  });
  double total = 0.0;
  for (double v : per_row) total += v;
  return total * inv_batch;
}

}  // namespace convlite

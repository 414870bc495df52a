// Keras's weight / activity regularizers (L1, L2, L1L2) and constraints (MaxNorm, NonNeg, UnitNorm, MinMaxNorm) as
// the compiled model runs them inside the training step. Plain loops the compiler vectorizes; serial, so results do
// not depend on the thread count. Formulas follow keras/src/{regularizers,constraints} (float32 arithmetic, eps 1e-7).
#include <algorithm>
#include <cmath>
#include <cstring>

#include "convlite/model.hpp"

namespace convlite {

namespace {
// sum |w| (Abs) or sum w^2 in float lanes (16 independent sums, which the compiler vectorizes without reassociating
// anything itself) over blocks of 4096, the blocks added in double: a fixed order, so any thread count agrees, and
// an activity penalty over a whole batch's output costs a fraction of a pass over it.
template <bool Abs>
double lane_sum(const float* w, std::int64_t n) {
  constexpr std::int64_t kLanes = 16, kBlock = 4096;
  double total = 0.0;
  for (std::int64_t start = 0; start < n; start += kBlock) {
    const float* p = w + start;
    const std::int64_t m = std::min(kBlock, n - start);
    float lane[kLanes] = {};
    std::int64_t j = 0;
    for (; j + kLanes <= m; j += kLanes)
      for (std::int64_t k = 0; k < kLanes; ++k) lane[k] += Abs ? std::fabs(p[j + k]) : p[j + k] * p[j + k];
    float block = 0.0f;
    for (std::int64_t k = 0; k < kLanes; ++k) block += lane[k];
    for (; j < m; ++j) block += Abs ? std::fabs(p[j]) : p[j] * p[j];
    total += static_cast<double>(block);
  }
  return total;
}
}  // namespace

double regularization_penalty(const Regularization& r, const float* w, std::int64_t n) {
  const double abs_sum = r.l1 != 0.0f ? lane_sum<true>(w, n) : 0.0;
  const double sq_sum = r.l2 != 0.0f ? lane_sum<false>(w, n) : 0.0;
  // Keras adds the terms in float32: l1 * sum|w| (+ l2 * sum w^2).
  const float l1_term = r.l1 * static_cast<float>(abs_sum), l2_term = r.l2 * static_cast<float>(sq_sum);
  return static_cast<double>(l1_term) + static_cast<double>(l2_term);
}

// d/dw of scale * penalty: TensorFlow's gradients of abs (sign, 0 at 0) and square (2w), times the upstream factor.
void add_regularization_gradient(const Regularization& r, const float* w, std::int64_t n, float scale, float* g) {
  const float a = scale * r.l1, b = scale * r.l2;
  if (r.l1 != 0.0f && r.l2 != 0.0f) {
    for (std::int64_t i = 0; i < n; ++i) {
      const float sign = static_cast<float>(w[i] > 0.0f) - static_cast<float>(w[i] < 0.0f);
      g[i] += a * sign + b * (2.0f * w[i]);
    }
  } else if (r.l1 != 0.0f) {
    for (std::int64_t i = 0; i < n; ++i)
      g[i] += a * (static_cast<float>(w[i] > 0.0f) - static_cast<float>(w[i] < 0.0f));
  } else if (r.l2 != 0.0f) {
    for (std::int64_t i = 0; i < n; ++i) g[i] += b * (2.0f * w[i]);
  }
}

namespace {

// The shape with neighbouring axes of the same kind (reduced / kept) merged: norms then run over at most a few
// nested loops whose innermost one is contiguous.
struct MergedAxes {
  std::vector<std::int64_t> size;
  std::vector<bool> reduce;
};

MergedAxes merge_axes(const ConstraintSpec& c) {
  MergedAxes m;
  for (std::size_t a = 0; a < c.dims.size(); ++a) {
    if (c.dims[a] == 1) continue;  // a size-1 axis changes nothing
    if (!m.size.empty() && m.reduce.back() == c.reduce[a]) {
      m.size.back() *= c.dims[a];
    } else {
      m.size.push_back(c.dims[a]);
      m.reduce.push_back(c.reduce[a]);
    }
  }
  if (m.size.empty()) {
    m.size.push_back(1);
    m.reduce.push_back(true);
  }
  return m;
}

// For every element run, calls body(offset, length, norm_index, inner_kept): the innermost merged axis is one run;
// when it is kept, element j of the run belongs to norm norm_index + j, else the whole run to norm_index.
template <class Body>
void for_each_run(const MergedAxes& m, Body body) {
  const std::size_t rank = m.size.size();
  const std::int64_t inner = m.size[rank - 1];
  const bool inner_kept = !m.reduce[rank - 1];
  // norm strides of the outer axes (kept axes only, row-major over the kept axes)
  std::vector<std::int64_t> norm_stride(rank, 0);
  std::int64_t stride = inner_kept ? inner : 1;
  for (std::size_t a = rank - 1; a-- > 0;) {
    if (!m.reduce[a]) {
      norm_stride[a] = stride;
      stride *= m.size[a];
    }
  }
  std::vector<std::int64_t> idx(rank, 0);
  std::int64_t outer = 1;
  for (std::size_t a = 0; a + 1 < rank; ++a) outer *= m.size[a];
  for (std::int64_t o = 0; o < outer; ++o) {
    std::int64_t norm = 0;
    for (std::size_t a = 0; a + 1 < rank; ++a) norm += idx[a] * norm_stride[a];
    body(o * inner, inner, norm, inner_kept);
    for (std::size_t a = rank - 1; a-- > 0;) {  // odometer over the outer axes
      if (++idx[a] < m.size[a]) break;
      idx[a] = 0;
    }
  }
}

}  // namespace

void apply_constraint(const ConstraintSpec& c, float* w, std::int64_t n) {
  if (c.kind == ConstraintKind::non_neg) {
    for (std::int64_t i = 0; i < n; ++i) w[i] = std::max(w[i], 0.0f);
    return;
  }
  const MergedAxes m = merge_axes(c);
  std::int64_t count = 1;
  for (std::size_t a = 0; a < m.size.size(); ++a)
    if (!m.reduce[a]) count *= m.size[a];
  std::vector<double> sums(static_cast<std::size_t>(count), 0.0);
  for_each_run(m, [&](std::int64_t off, std::int64_t len, std::int64_t norm, bool kept) {
    const float* p = w + off;
    if (kept) {
      double* s = sums.data() + norm;
      for (std::int64_t j = 0; j < len; ++j) s[j] += static_cast<double>(p[j]) * p[j];
    } else {
      double s = 0.0;
      for (std::int64_t j = 0; j < len; ++j) s += static_cast<double>(p[j]) * p[j];
      sums[static_cast<std::size_t>(norm)] += s;
    }
  });
  // Per norm, the factor Keras multiplies by (max/min-max: desired / (eps + norm)); unit_norm divides instead.
  constexpr float kEps = 1e-7f;
  std::vector<float> factor(sums.size());
  for (std::size_t k = 0; k < sums.size(); ++k) {
    const float norm = std::sqrt(static_cast<float>(sums[k]));
    float desired = norm;
    if (c.kind == ConstraintKind::max_norm) {
      desired = std::min(std::max(norm, 0.0f), c.max_value);
    } else if (c.kind == ConstraintKind::min_max_norm) {
      desired = c.rate * std::min(std::max(norm, c.min_value), c.max_value) + c.one_minus_rate * norm;
    }
    factor[k] = c.kind == ConstraintKind::unit_norm ? kEps + norm : desired / (kEps + norm);
  }
  const bool divide = c.kind == ConstraintKind::unit_norm;
  for_each_run(m, [&](std::int64_t off, std::int64_t len, std::int64_t norm, bool kept) {
    float* p = w + off;
    const float* f = factor.data() + norm;
    if (kept && divide) {
      for (std::int64_t j = 0; j < len; ++j) p[j] = p[j] / f[j];
    } else if (kept) {
      for (std::int64_t j = 0; j < len; ++j) p[j] = p[j] * f[j];
    } else if (divide) {
      for (std::int64_t j = 0; j < len; ++j) p[j] = p[j] / f[0];
    } else {
      for (std::int64_t j = 0; j < len; ++j) p[j] = p[j] * f[0];
    }
  });
}

namespace {

// activity_regularizer: a view (no work in forward or backward of its own); the model reads its penalty.
class ActivityRegularizationLayer final : public ModelLayer {
 public:
  ActivityRegularizationLayer(const Regularization& r, std::int64_t size) : r_(r), size_(size) {}
  std::int64_t in_size() const override { return size_; }
  std::int64_t out_size() const override { return size_; }
  bool is_view() const override { return true; }
  void forward(std::int64_t batch, const float* x, float* y, const StepContext&) override {
    if (x != y) std::memcpy(y, x, static_cast<std::size_t>(batch * size_) * sizeof(float));
  }
  void backward(std::int64_t batch, const float*, const float*, const float* dy, float* dx) override {
    if (dx && dx != dy) std::memcpy(dx, dy, static_cast<std::size_t>(batch * size_) * sizeof(float));
  }
  const Regularization* activity_regularization() const override { return &r_; }

 private:
  Regularization r_;
  std::int64_t size_;
};

}  // namespace

std::unique_ptr<ModelLayer> make_activity_regularization_layer(const Regularization& r, std::int64_t size) {
  return std::make_unique<ActivityRegularizationLayer>(r, size);
}

}  // namespace convlite

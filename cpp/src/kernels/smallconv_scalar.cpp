// Scalar small-conv kernels: define the semantics (compiled with -ffp-contract=off). Sums run k in order,
// taps in order, then bias, then the activation; gradients accumulate rows in order.
#include "kernels/smallconv_kernels.hpp"

namespace convlite {
namespace {

#include "kernels/epilogue_scalar.inc"

void forward(const SmallConvArgs& p) {
  for (std::int64_t r = 0; r < p.rows; ++r) {
    const float* a = p.a + r * p.a_stride;
    float* y = p.y + r * p.f;
    for (std::int64_t f = 0; f < p.f; ++f) {
      float acc = 0.0f;
      for (std::int64_t t = 0; t < p.taps; ++t)
        for (std::int64_t k = 0; k < p.kc; ++k) acc += a[t * p.tap_stride + k] * p.w[(t * p.kc + k) * p.ldw + f];
      if (p.bias) acc += p.bias[f];
      y[f] = activate(acc, p.activation, p.negative_slope);
    }
  }
}

const float* field(const SmallConvArgs& p, std::int64_t r) {  // weight grad: rows may span output rows
  if (p.row_pixels <= 0) return p.a + r * p.a_stride;
  return p.a + (r / p.row_pixels) * p.row_stride + (r % p.row_pixels) * p.a_stride;
}

void weight_grad(const SmallConvArgs& p) {
  for (std::int64_t r = 0; r < p.rows; ++r) {
    const float* a = field(p, r);
    float dz[64];  // f <= 32
    for (std::int64_t f = 0; f < p.f; ++f) {
      const float v = p.dz[r * p.f + f];
      dz[f] = !p.mask_y || p.mask_y[r * p.f + f] > 0.0f ? v : (p.mask_activation == 2 ? v * p.negative_slope : 0.0f);
    }
    if (p.db)
      for (std::int64_t f = 0; f < p.f; ++f) p.db[f] += dz[f];
    if (!p.dw) continue;
    for (std::int64_t t = 0; t < p.taps; ++t)
      for (std::int64_t k = 0; k < p.kc; ++k) {
        const float av = a[t * p.tap_stride + k];
        float* dw = p.dw + (t * p.kc + k) * p.ldw;
        for (std::int64_t f = 0; f < p.f; ++f) dw[f] += av * dz[f];
      }
  }
}

void input_grad(const SmallConvArgs& p) {
  for (std::int64_t r = 0; r < p.rows; ++r) {
    float* dx = p.dx + r * p.a_stride;
    const float* dz = p.dz + r * p.f;
    for (std::int64_t t = 0; t < p.taps; ++t)
      for (std::int64_t k = 0; k < p.kc; ++k) {
        float s = 0.0f;
        for (std::int64_t f = 0; f < p.f; ++f) s += dz[f] * p.w[(t * p.ldw + f) * p.kcp + k];
        dx[t * p.tap_stride + k] += s;
      }
  }
}

}  // namespace

const SmallConvKernels& smallconv_kernels_scalar() {
  static const SmallConvKernels table{1, forward, weight_grad, input_grad};
  return table;
}

}  // namespace convlite

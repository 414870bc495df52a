// Dense on the shared GEMM driver: forward with the fused bias + activation epilogue; backward as
// dx = dz * w^T (packed once) and dw = x^T * dz with db, reduced over the batch in a fixed order.
#include <algorithm>

#include "convlite/conv.hpp"
#include "gemm/gemm_driver.hpp"

namespace convlite {

void dense_forward(std::int64_t batch, std::int64_t in, std::int64_t units, const float* x, const float* w,
                   const float* bias, float* y, const Epilogue& epilogue) {
  if (batch <= 0 || units <= 0) return;
  const std::int64_t mr = gemm::kernels().mr, nr = gemm::kernels().nr;
  gemm::PackedB packed;
  gemm::pack_b(packed, w, in, units, units, 1);
  gemm::Buffer padded_bias, zeros(std::max<std::int64_t>(in, 1));
  if (bias) gemm::pad_bias(padded_bias, bias, units, nr);
  const float* zero_row = zeros.data();
  gemm::IndirectProblem p;
  p.m = batch;
  p.kc = in;
  p.b = &packed;
  p.bias = bias ? padded_bias.data() : nullptr;
  p.activation = static_cast<int>(epilogue.activation);
  p.negative_slope = epilogue.negative_slope;
  gemm::indirect_gemm(p, [&](std::int64_t m0, std::int64_t mv, const float** a, std::int64_t* tap_of, float** c,
                             float*) {
    tap_of[0] = 0;
    for (std::int64_t r = 0; r < mr; ++r) a[r] = r < mv ? x + (m0 + r) * in : zero_row;
    for (std::int64_t r = 0; r < mv; ++r) c[r] = y + (m0 + r) * units;
    return std::int64_t{1};
  });
}

void dense_backward(std::int64_t batch, std::int64_t in, std::int64_t units, const float* x, const float* w,
                    const float* y, const float* dy, float* dx, float* dw, float* db, const Epilogue& epilogue) {
  const int act = y ? static_cast<int>(epilogue.activation) : 0;
  const float* dz = dy;
  const float* mask_y = act ? y : nullptr;
  if (act && dx && batch > 0) {
    float* masked = gemm::workspace(gemm::Slot::masked_dz, batch * units);
    gemm::kernels().activation_grad(dy, y, masked, batch * units, act, epilogue.negative_slope);
    dz = masked;
    mask_y = nullptr;
  }
  if (dw || db) {
    gemm::ReductionProblem p;
    p.m = batch;
    p.kc = in;
    p.n = units;
    p.dz = dz;
    p.y = mask_y;
    p.ldz = units;
    p.activation = mask_y ? act : 0;
    p.negative_slope = epilogue.negative_slope;
    p.c = dw;
    p.ldc = units;
    p.db = db;
    gemm::reduction_gemm(p, [&](std::int64_t m0, std::int64_t m1, const float** seg) {
      for (std::int64_t i = m0; i < m1; ++i) *seg++ = x + i * in;
    });
  }
  if (!dx || batch <= 0 || in <= 0) return;
  if (units <= 0) {
    std::fill(dx, dx + batch * in, 0.0f);
    return;
  }
  const std::int64_t mr = gemm::kernels().mr;
  gemm::PackedB packed;
  gemm::pack_b(packed, w, units, in, 1, units);  // B(u, i) = w[i, u]
  gemm::Buffer zeros(units);
  const float* zero_row = zeros.data();
  gemm::IndirectProblem p;
  p.m = batch;
  p.kc = units;
  p.b = &packed;
  gemm::indirect_gemm(p, [&](std::int64_t m0, std::int64_t mv, const float** a, std::int64_t* tap_of, float** c,
                             float*) {
    tap_of[0] = 0;
    for (std::int64_t r = 0; r < mr; ++r) a[r] = r < mv ? dz + (m0 + r) * units : zero_row;
    for (std::int64_t r = 0; r < mv; ++r) c[r] = dx + (m0 + r) * in;
    return std::int64_t{1};
  });
}

}  // namespace convlite

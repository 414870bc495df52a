// Dense on the shared GEMM driver: forward with the fused bias + activation epilogue; backward as
// dx = dz * w^T and dw = x^T * dz (a transposed, packed A: the batch is the short K), db the column sum of dz.
// A batch long enough to be worth splitting over threads, or a narrow layer, goes to the weight-gradient
// reduction driver instead.
// A small batch (the usual case) runs the forward and dx on the small-M driver, which reads W in place instead of
// packing all of it first; a narrow forward (few units, long rows) is row-by-row dot products instead.
#include <algorithm>

#include "convlite/conv.hpp"
#include "gemm/gemm_driver.hpp"

namespace convlite {
namespace {

// From this batch on, dw is a long reduction that the reduction driver splits over the batch in fixed chunks;
// below it, that driver could only split over the inputs, as the plain GEMM does, without its transpose pass.
constexpr std::int64_t kReductionBatch = 8192;

// Below it, a narrow layer (few units) still takes the reduction driver, which computes dw^T = dz^T x with the
// units as the microkernel's MR rows and x's rows read in place as its NR side: the plain GEMM puts the units on
// the NR side, where 10 units fill 10 of 16 lanes (64 x 1600 -> 10: 70 us against 52 on one core). Only while
// dw^T stays small: the driver writes it to a buffer and transposes it out (256 -> 256 took twice as long).
bool narrow_weight_gradient(std::int64_t in, std::int64_t units) {
  const std::int64_t mr = gemm::kernels().mr, nr = gemm::kernels().nr;
  const std::int64_t lanes_plain = (units + nr - 1) / nr * nr, lanes_reduction = (units + mr - 1) / mr * mr;
  return 4 * lanes_plain >= 5 * lanes_reduction && in * units <= 64 * 1024;
}


// C (m x n, row stride ldc) = A * B with A(i, kk) = a[i * a_row + kk * a_step] and B packed, through the shared
// driver with A packed per K block; bias and activation on the last block.
void packed_gemm(std::int64_t m, std::int64_t k, const gemm::PackedB& b, const float* a, std::int64_t a_row,
                 std::int64_t a_step, float* c, std::int64_t ldc, const float* bias, const Epilogue* epilogue,
                 std::int64_t kc_block, double flop_cost = gemm::kFlopCost) {
  const std::int64_t mr = gemm::kernels().mr;
  static const float zero_row[1] = {};  // rows past m: never read, as A is packed
  gemm::IndirectProblem p;
  p.m = m;
  p.kc = k;
  p.b = &b;
  p.bias = bias;
  if (epilogue) {
    p.activation = static_cast<int>(epilogue->activation);
    p.negative_slope = epilogue->negative_slope;
  }
  p.a_step = a_step;
  p.pack_a = true;
  p.kc_block = kc_block;
  p.flop_cost = flop_cost;
  gemm::indirect_gemm(p, [&](std::int64_t m0, std::int64_t mv, const float** rows, std::int64_t* tap_of,
                             float** c_rows, float*) {
    tap_of[0] = 0;
    for (std::int64_t r = 0; r < mr; ++r) rows[r] = r < mv ? a + (m0 + r) * a_row : zero_row;
    for (std::int64_t r = 0; r < mv; ++r) c_rows[r] = c + (m0 + r) * ldc;
    return std::int64_t{1};
  });
}

// A narrow forward (few units, long rows): each output is a dot product of an x row and a W column, read along
// k in place (W transposed once into a units x in copy), so no NR lanes are wasted on missing units: 64 x 1600 ->
// 10 filled 10 of 16 lanes of the 6x16 tile (73 us on one core) and needed all of x packed first.
bool narrow_forward(std::int64_t in, std::int64_t units) {
  const std::int64_t nr = gemm::kernels().nr;
  return in >= 32 && in * units <= 64 * 1024 && 4 * ((units + nr - 1) / nr * nr) >= 5 * units;
}

#include "kernels/epilogue_scalar.inc"  // activate(v, code, slope): the GEMM microkernels' epilogue on one value

void narrow_dense_forward(std::int64_t batch, std::int64_t in, std::int64_t units, const float* x, const float* w,
                          const float* bias, float* y, const Epilogue& epilogue) {
  float* wt = gemm::workspace(gemm::Slot::dense_wt, units * in);
  // Written along its rows (W read down its columns, a few floats a line apart): the other order stored into
  // `units` lines a row apart per input, and was 13% of a 64 x 1600 -> 10 forward.
  for (std::int64_t u = 0; u < units; ++u)
    for (std::int64_t i = 0; i < in; ++i) wt[u * in + i] = w[i * units + u];
  constexpr std::int64_t kRows = 4;  // the kernels' row block
  const double cost = gemm::kFlopCost * 2.0 * kRows * static_cast<double>(in * units);
  parallel_for((batch + kRows - 1) / kRows, cost, [&](std::int64_t b0, std::int64_t b1) {
    const std::int64_t r0 = b0 * kRows, r1 = std::min(batch, b1 * kRows);
    gemm::kernels().dot_rows(r1 - r0, units, in, x + r0 * in, in, wt, in, y + r0 * units, units);
    if (!bias && epilogue.activation == FusedActivation::none) return;
    for (std::int64_t r = r0; r < r1; ++r)
      for (std::int64_t u = 0; u < units; ++u) {
        float& v = y[r * units + u];
        if (bias) v += bias[u];
        v = activate(v, static_cast<int>(epilogue.activation), epilogue.negative_slope);
      }
  });
}

}  // namespace

void dense_forward(std::int64_t batch, std::int64_t in, std::int64_t units, const float* x, const float* w,
                   const float* bias, float* y, const Epilogue& epilogue) {
  if (batch <= 0 || units <= 0) return;
  if (narrow_forward(in, units)) {
    narrow_dense_forward(batch, in, units, x, w, bias, y, epilogue);
    return;
  }
  const std::int64_t nr = gemm::kernels().nr;
  gemm::Buffer padded_bias;
  if (bias) gemm::pad_bias(padded_bias, bias, units, nr);
  if (gemm::small_m_fits(batch, in)) {  // W (in x units) is B already: packed a few micro-panels at a time
    gemm::small_m_gemm(batch, units, in, x, in, w, units, 1, y, units, bias ? padded_bias.data() : nullptr,
                       static_cast<int>(epilogue.activation), epilogue.negative_slope);
    return;
  }
  gemm::PackedB packed;
  gemm::pack_b(packed, w, in, units, units, 1);
  packed_gemm(batch, in, packed, x, in, 1, y, units, bias ? padded_bias.data() : nullptr, &epilogue,
              gemm::kPackedKc);
}

void dense_backward(std::int64_t batch, std::int64_t in, std::int64_t units, const float* x, const float* w,
                    const float* y, const float* dy, float* dx, float* dw, float* db, const Epilogue& epilogue) {
  const int act = y ? static_cast<int>(epilogue.activation) : 0;
  const bool reduce = batch >= kReductionBatch || narrow_weight_gradient(in, units);
  const float* dz = dy;
  const float* mask_y = act ? y : nullptr;
  if (act && (dx || !reduce) && batch > 0) {
    float* masked = gemm::workspace(gemm::Slot::masked_dz, batch * units);
    gemm::kernels().activation_grad(dy, y, masked, batch * units, act, epilogue.negative_slope);
    dz = masked;
    mask_y = nullptr;
  }
  if ((dw || db) && reduce) {
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
  } else {
    if (db) {  // in batch order (the reduction driver, from batch 8192 on, adds 256-row chunk sums instead)
      std::fill(db, db + units, 0.0f);
      for (std::int64_t i = 0; i < batch; ++i)
        for (std::int64_t j = 0; j < units; ++j) db[j] += dz[i * units + j];
    }
    if (dw && in > 0 && units > 0) {
      if (batch <= 0) {
        std::fill(dw, dw + in * units, 0.0f);
      } else {  // dw(i, u) = sum_b x[b, i] dz[b, u]: A = x^T, read down its columns while it is packed
        gemm::PackedB packed;
        gemm::pack_b(packed, dz, batch, units, units, 1);
        packed_gemm(in, batch, packed, x, 1, in, dw, units, nullptr, nullptr, gemm::kPackedKc,
                    gemm::kDenseFlopCost);  // K is the batch: a dense GEMM's threading cost
      }
    }
  }
  if (!dx || batch <= 0 || in <= 0) return;
  if (units <= 0) {
    std::fill(dx, dx + batch * in, 0.0f);
    return;
  }
  if (gemm::small_m_fits(batch, units)) {  // B(u, i) = w[i, u], packed a few micro-panels at a time
    gemm::small_m_gemm(batch, in, units, dz, units, w, 1, units, dx, in, nullptr, 0, 0.0f);
    return;
  }
  gemm::PackedB packed;
  gemm::pack_b(packed, w, units, in, 1, units);  // B(u, i) = w[i, u]
  packed_gemm(batch, units, packed, dz, units, 1, dx, in, nullptr, nullptr, gemm::kPackedKc);
}

}  // namespace convlite

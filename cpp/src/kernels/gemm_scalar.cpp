// Scalar GEMM microkernel (4x8): defines the semantics. Compiled with -ffp-contract=off: every product is rounded
// before it is added, k in order, taps in order; then beta * C, then bias, then the activation.
#include "kernels/gemm_kernels.hpp"

namespace convlite {
namespace {

constexpr int kMr = 4, kNr = 8;

#include "kernels/epilogue_scalar.inc"

void tile_4x8(const MicroTile& t) {
  float acc[kMr][kNr] = {};
  for (std::int64_t tap = 0; tap < t.taps; ++tap) {
    const float* const* a = t.a + tap * kMr;
    const float* b = t.b[tap];
    for (std::int64_t k = 0; k < t.kc; ++k, b += kNr)
      for (int r = 0; r < kMr; ++r) {
        const float av = a[r][k * t.a_step];
        for (int j = 0; j < kNr; ++j) acc[r][j] += av * b[j];
      }
  }
  for (std::int64_t r = 0; r < t.mv; ++r) {
    float* c = t.c[r];
    for (std::int64_t j = 0; j < t.nv; ++j) {
      float v = acc[r][j];
      if (t.beta != 0.0f) v += t.beta * c[j];
      if (t.bias) v += t.bias[j];
      c[j] = activate(v, t.activation, t.negative_slope);
    }
  }
}

void tile_4x8_b_rows(const MicroTile& t) {
  float acc[kMr][kNr] = {};
  for (std::int64_t k = 0; k < t.kc; ++k) {
    const float* b = t.b[k];
    for (int r = 0; r < kMr; ++r) {
      const float av = t.a[r][k * t.a_step];
      for (int j = 0; j < kNr; ++j) acc[r][j] += av * b[j];
    }
  }
  for (std::int64_t r = 0; r < t.mv; ++r) {
    float* c = t.c[r];
    for (std::int64_t j = 0; j < t.nv; ++j) {
      float v = acc[r][j];
      if (t.beta != 0.0f) v += t.beta * c[j];
      if (t.bias) v += t.bias[j];
      c[j] = activate(v, t.activation, t.negative_slope);
    }
  }
}

void activation_grad(const float* dy, const float* y, float* dz, std::int64_t n, int activation, float slope) {
  for (std::int64_t i = 0; i < n; ++i) {
    if (activation == 1)
      dz[i] = y[i] > 0.0f ? dy[i] : 0.0f;
    else if (activation == 2)
      dz[i] = y[i] > 0.0f ? dy[i] : dy[i] * slope;
    else
      dz[i] = dy[i];
  }
}

double fma_peak(std::int64_t iterations) {
  float a[8] = {0.1f, 0.2f, 0.3f, 0.4f, 0.5f, 0.6f, 0.7f, 0.8f};  // distinct, so no chains merge
  for (std::int64_t i = 0; i < iterations; ++i)
    for (float& v : a) v = v * 0.999999f + 1e-7f;
  volatile float sink = a[0] + a[7];
  (void)sink;
  return 2.0 * 8 * static_cast<double>(iterations);
}

void dot_rows(std::int64_t m, std::int64_t n, std::int64_t k, const float* a, std::int64_t lda, const float* bt,
              std::int64_t ldb, float* c, std::int64_t ldc) {
  for (std::int64_t i = 0; i < m; ++i)
    for (std::int64_t j = 0; j < n; ++j) {
      const float *x = a + i * lda, *y = bt + j * ldb;
      float s = 0.0f;
      for (std::int64_t kk = 0; kk < k; ++kk) s += x[kk] * y[kk];
      c[i * ldc + j] = s;
    }
}

// Packs B's rows (if streamed in place), then runs the ordinary tile on the copy: the same products in the same
// order, by definition. The prefetch hint is ignored.
void tile_stream(const MicroTile& t, const BStream& s) {
  const float* packed = t.b[0];
  if (s.src) {
    for (std::int64_t k = 0; k < t.kc; ++k)
      for (int j = 0; j < kNr; ++j) s.pack[k * kNr + j] = s.src[k * s.src_stride + j];
    packed = s.pack;
  }
  MicroTile u = t;
  u.b = &packed;
  tile_4x8(u);
}

constexpr GemmKernels kScalarTable = {kMr, kNr, &tile_4x8, &tile_4x8_b_rows, &activation_grad, &fma_peak,
                                      &dot_rows, &tile_stream};

}  // namespace

const GemmKernels& gemm_kernels_scalar() { return kScalarTable; }

}  // namespace convlite

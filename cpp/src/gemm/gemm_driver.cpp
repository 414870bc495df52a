// Packing and the ISA choice for the GEMM family (the weight-gradient reduction driver is gemm_reduction.cpp).
#include "gemm/gemm_driver.hpp"

#include "convlite/dispatch.hpp"

#if defined(__SSE2__) || defined(_M_X64)
#include <emmintrin.h>
#endif

namespace convlite::gemm {

const GemmKernels& kernels() {
  switch (active_isa()) {
#if defined(CONVLITE_HAVE_AVX512)
    case Isa::avx512: return gemm_kernels_avx512();
#endif
#if defined(CONVLITE_HAVE_AVX2)
    case Isa::avx2: return gemm_kernels_avx2();
#endif
    default: return gemm_kernels_scalar();
  }
}

float* workspace(Slot slot, std::int64_t n) {
  struct Store {
    float* data[static_cast<int>(Slot::count)] = {};
    std::int64_t size[static_cast<int>(Slot::count)] = {};
    ~Store() {
      for (float* d : data) std::free(d);
    }
  };
  thread_local Store store;
  const int i = static_cast<int>(slot);
  if (n > store.size[i]) {
    std::free(store.data[i]);
    store.data[i] = nullptr;
    store.size[i] = 0;
    const std::size_t bytes = (static_cast<std::size_t>(n) * sizeof(float) + 63) / 64 * 64;
    store.data[i] = static_cast<float*>(std::aligned_alloc(64, bytes));
    if (!store.data[i]) throw std::bad_alloc();
    store.size[i] = n;
  }
  return store.data[i];
}

namespace {

// One whole NR-wide panel of a row-major B: a fixed-size copy per row that the compiler inlines (a memcpy call
// per 64-byte row cost more than the copy: a third of a 48x1024x1024 sgemm went to it).
template <int Nr>
void copy_panel(float* dst, const float* src, std::int64_t k, std::int64_t row_stride) {
  for (std::int64_t kk = 0; kk < k; ++kk, dst += Nr, src += row_stride) std::memcpy(dst, src, Nr * sizeof(float));
}

}  // namespace

void pack_b(PackedB& out, const float* src, std::int64_t k, std::int64_t n, std::int64_t row_stride,
            std::int64_t col_stride) {
  const std::int64_t nr = kernels().nr;
  out.k = k, out.n = n, out.nr = nr, out.panels = (n + nr - 1) / nr;
  out.data = workspace(Slot::packed_b, out.panels * k * nr);
  float* base = out.data;
  // A copy is weighed by its bytes (read + written): packing a 1024 x 1024 B (8 MB moved) then shares the team,
  // where at 1/32 per float it stayed serial beside an idle thread.
  parallel_for(out.panels, 8.0 * static_cast<double>(k) * nr, [&](std::int64_t p0, std::int64_t p1) {
    if (col_stride == 1 && (nr == 8 || nr == 16 || nr == 32)) {
      // Whole panels 16 rows at a time, all of this thread's panels per block of rows: B is read along its rows
      // (runs the hardware prefetcher follows, 16 rows of them in L1) instead of one line per row stride down
      // each panel, which for a 1024-wide B crossed a page per row (3% of a 1024^3 sgemm went to pack_b).
      const std::int64_t full_end = std::min(p1, n / nr);
      for (std::int64_t r0 = 0; r0 < k && p0 < full_end; r0 += 16) {
        const std::int64_t rows = std::min<std::int64_t>(16, k - r0);
        for (std::int64_t p = p0; p < full_end; ++p) {
          float* dst = base + p * k * nr + r0 * nr;
          const float* first = src + r0 * row_stride + p * nr;
          if (nr == 8) copy_panel<8>(dst, first, rows, row_stride);
          if (nr == 16) copy_panel<16>(dst, first, rows, row_stride);
          if (nr == 32) copy_panel<32>(dst, first, rows, row_stride);
        }
      }
      p0 = std::max(p0, full_end);
    }
    for (std::int64_t p = p0; p < p1; ++p) {
      float* dst = base + p * k * nr;
      const std::int64_t j0 = p * nr, nv = std::min(nr, n - j0);
      if (col_stride != 1 && row_stride == 1) {
        // A transposed B (its columns are rows in memory): 128 x nr blocks, each source row read along 128
        // contiguous floats (a stream the prefetcher follows) while the 8-32 KB block of the panel stays in L1,
        // instead of one float per row stride per k (15% of a dense backward went there).
        for (std::int64_t k0 = 0; k0 < k; k0 += 128) {
          const std::int64_t k1 = std::min(k, k0 + 128);
          for (std::int64_t j = 0; j < nr; ++j) {
            float* d = dst + k0 * nr + j;
            if (j >= nv) {
              for (std::int64_t kk = k0; kk < k1; ++kk, d += nr) *d = 0.0f;
            } else {
              const float* row = src + (j0 + j) * col_stride;
              for (std::int64_t kk = k0; kk < k1; ++kk, d += nr) *d = row[kk];
            }
          }
        }
        continue;
      }
      for (std::int64_t kk = 0; kk < k; ++kk, dst += nr) {
        const float* row = src + kk * row_stride + j0 * col_stride;
        if (col_stride == 1)
          std::memcpy(dst, row, static_cast<std::size_t>(nv) * sizeof(float));
        else
          for (std::int64_t j = 0; j < nv; ++j) dst[j] = row[j * col_stride];
        for (std::int64_t j = nv; j < nr; ++j) dst[j] = 0.0f;
      }
    }
  });
}

void pack_rows6(float* dst, const float* const* row, std::int64_t kc) {
  std::int64_t k = 0;
#if defined(__SSE2__) || defined(_M_X64)
  // Four k at a time: a 4x4 transpose of rows 0-3 and an interleave of rows 4-5, eight stores instead of 24
  // scalar moves (the A packing was 4% of a 1024^3 sgemm).
  for (; k + 4 <= kc; k += 4, dst += 24) {
    const __m128 r0 = _mm_loadu_ps(row[0] + k), r1 = _mm_loadu_ps(row[1] + k), r2 = _mm_loadu_ps(row[2] + k),
                 r3 = _mm_loadu_ps(row[3] + k), r4 = _mm_loadu_ps(row[4] + k), r5 = _mm_loadu_ps(row[5] + k);
    const __m128 t0 = _mm_unpacklo_ps(r0, r1), t1 = _mm_unpackhi_ps(r0, r1);
    const __m128 t2 = _mm_unpacklo_ps(r2, r3), t3 = _mm_unpackhi_ps(r2, r3);
    const __m128 u0 = _mm_unpacklo_ps(r4, r5), u1 = _mm_unpackhi_ps(r4, r5);
    _mm_storeu_ps(dst, _mm_movelh_ps(t0, t2));
    _mm_storel_pi(reinterpret_cast<__m64*>(dst + 4), u0);
    _mm_storeu_ps(dst + 6, _mm_movehl_ps(t2, t0));
    _mm_storeh_pi(reinterpret_cast<__m64*>(dst + 10), u0);
    _mm_storeu_ps(dst + 12, _mm_movelh_ps(t1, t3));
    _mm_storel_pi(reinterpret_cast<__m64*>(dst + 16), u1);
    _mm_storeu_ps(dst + 18, _mm_movehl_ps(t3, t1));
    _mm_storeh_pi(reinterpret_cast<__m64*>(dst + 22), u1);
  }
#endif
  for (; k < kc; ++k, dst += 6) {
    dst[0] = row[0][k], dst[1] = row[1][k], dst[2] = row[2][k];
    dst[3] = row[3][k], dst[4] = row[4][k], dst[5] = row[5][k];
  }
}

namespace {
template <int Mr>
void copy_runs(float* dst, const float* src, std::int64_t ld, std::int64_t kc) {
  for (std::int64_t k = 0; k < kc; ++k, dst += Mr, src += ld) std::memcpy(dst, src, Mr * sizeof(float));
}
}  // namespace

void pack_transposed_panel(float* dst, const float* src, std::int64_t ld, std::int64_t kc, std::int64_t mr) {
  // Constant-size copies the compiler inlines (16 + 8 bytes for 6 floats).
  if (mr == 6) return copy_runs<6>(dst, src, ld, kc);
  if (mr == 4) return copy_runs<4>(dst, src, ld, kc);
  if (mr == 8) return copy_runs<8>(dst, src, ld, kc);
  for (std::int64_t k = 0; k < kc; ++k, dst += mr, src += ld) std::memcpy(dst, src, mr * sizeof(float));
}

void masked_gradient(const float* dy, const float* y, float* dz, std::int64_t n, int activation,
                     float negative_slope) {
  const GemmKernels& kt = kernels();
  constexpr std::int64_t kBlock = 4096;
  parallel_for((n + kBlock - 1) / kBlock, 12.0 * kBlock, [&](std::int64_t b0, std::int64_t b1) {
    const std::int64_t begin = b0 * kBlock, end = std::min(n, b1 * kBlock);
    kt.activation_grad(dy + begin, y + begin, dz + begin, end - begin, activation, negative_slope);
  });
}

void pad_bias(Buffer& out, const float* bias, std::int64_t n, std::int64_t nr) {
  out.resize((n + nr - 1) / nr * nr);
  std::memcpy(out.data(), bias, static_cast<std::size_t>(n) * sizeof(float));
}

}  // namespace convlite::gemm

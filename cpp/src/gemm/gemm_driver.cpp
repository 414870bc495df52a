// Packing, the weight-gradient reduction driver, and the ISA choice for the GEMM family.
#include "gemm/gemm_driver.hpp"

#include "convlite/dispatch.hpp"

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

void pack_b(PackedB& out, const float* src, std::int64_t k, std::int64_t n, std::int64_t row_stride,
            std::int64_t col_stride) {
  const std::int64_t nr = kernels().nr;
  out.k = k, out.n = n, out.nr = nr, out.panels = (n + nr - 1) / nr;
  out.data.resize(out.panels * k * nr);
  float* base = out.data.data();
  parallel_for(out.panels, 2.0 * k * nr, [&](std::int64_t p0, std::int64_t p1) {
    for (std::int64_t p = p0; p < p1; ++p) {
      float* dst = base + p * k * nr;
      const std::int64_t j0 = p * nr, nv = std::min(nr, n - j0);
      for (std::int64_t kk = 0; kk < k; ++kk, dst += nr) {
        const float* row = src + kk * row_stride + j0 * col_stride;
        if (col_stride == 1)
          std::memcpy(dst, row, static_cast<std::size_t>(nv) * sizeof(float));
        else
          for (std::int64_t j = 0; j < nv; ++j) dst[j] = row[j * col_stride];
      }
    }
  });
}

void pad_bias(Buffer& out, const float* bias, std::int64_t n, std::int64_t nr) {
  out.resize((n + nr - 1) / nr * nr);
  std::memcpy(out.data(), bias, static_cast<std::size_t>(n) * sizeof(float));
}

namespace {

constexpr std::int64_t kChunk = 256;  // pixels reduced in registers per microkernel call

float masked(float dz, const float* y, std::int64_t i, int activation, float slope) {
  if (activation == 0 || !y) return dz;
  if (y[i] > 0.0f) return dz;
  return activation == 2 ? dz * slope : 0.0f;
}

}  // namespace

void reduction_gemm_impl(const ReductionProblem& p,
                         void (*segs)(const void* ctx, std::int64_t m0, std::int64_t m1, const float** ptr),
                         const void* ctx) {
  const GemmKernels& kt = kernels();
  const std::int64_t mr = kt.mr, nr = kt.nr;
  const std::int64_t kdim = p.taps * p.kc, n = p.n;
  if (p.m <= 0) {
    if (p.c)
      for (std::int64_t k = 0; k < kdim; ++k) std::fill(p.c + k * p.ldc, p.c + k * p.ldc + n, 0.0f);
    if (p.db) std::fill(p.db, p.db + n, 0.0f);
    return;
  }
  const std::int64_t chunks = (p.m + kChunk - 1) / kChunk;
  // Super-chunks depend on m alone, never on the thread count: that is what makes the sum reproducible.
  const std::int64_t supers = std::clamp<std::int64_t>(p.m / 4096, 1, std::min<std::int64_t>(8, chunks));
  const std::int64_t k_tiles = (kdim + mr - 1) / mr, panels = (n + nr - 1) / nr;
  const std::int64_t k_groups = (!p.c || supers >= 4) ? 1 : std::min<std::int64_t>(k_tiles, 4);
  Buffer partial, partial_db;
  if (supers > 1) {
    if (p.c) partial.resize(supers * kdim * n);
    if (p.db) partial_db.resize(supers * n);
  }
  const double cost = 2.0 * static_cast<double>(kdim + 1) * n * (static_cast<double>(p.m) / supers) / k_groups;
  parallel_for(supers * k_groups, cost, [&](std::int64_t i0, std::int64_t i1) {
    Buffer b_pack(kChunk * panels * nr), a_pack(kChunk * mr);
    std::vector<const float*> seg(kChunk * p.taps);
    std::vector<const float*> a_rows(mr);
    std::vector<const float*> b_rows(1);
    std::vector<float*> c_rows(mr);
    for (std::int64_t item = i0; item < i1; ++item) {
      const std::int64_t s = item / k_groups, g = item % k_groups;
      const std::int64_t ch0 = chunks * s / supers, ch1 = chunks * (s + 1) / supers;
      float* out = supers == 1 ? p.c : partial.data() + s * kdim * n;
      const std::int64_t ldo = supers == 1 ? p.ldc : n;
      float* db = (p.db && g == 0) ? (supers == 1 ? p.db : partial_db.data() + s * n) : nullptr;
      if (db) std::fill(db, db + n, 0.0f);
      const std::int64_t kt0 = k_tiles * g / k_groups, kt1 = k_tiles * (g + 1) / k_groups;
      for (std::int64_t ch = ch0; ch < ch1; ++ch) {
        const std::int64_t m0 = ch * kChunk, m1 = std::min(p.m, m0 + kChunk), len = m1 - m0;
        // B: the chunk of dz (masked), in NR panels; the bias gradient sums the same values in m order.
        for (std::int64_t mm = 0; mm < len; ++mm) {
          const std::int64_t row = (m0 + mm) * p.ldz;
          for (std::int64_t pj = 0; pj < panels; ++pj) {
            float* dst = b_pack.data() + (pj * len + mm) * nr;
            const std::int64_t j0 = pj * nr, nv = std::min(nr, n - j0);
            for (std::int64_t j = 0; j < nv; ++j) {
              const float v = masked(p.dz[row + j0 + j], p.y, row + j0 + j, p.activation, p.negative_slope);
              dst[j] = v;
              if (db) db[j0 + j] += v;
            }
            for (std::int64_t j = nv; j < nr; ++j) dst[j] = 0.0f;
          }
        }
        if (!p.c) continue;
        segs(ctx, m0, m1, seg.data());
        for (std::int64_t ktile = kt0; ktile < kt1; ++ktile) {
          const std::int64_t k0 = ktile * mr, kv = std::min(mr, kdim - k0);
          // A: an MR-panel of Xcol^T, k-major (row r of the panel is Xcol column k0 + r).
          float* ap = a_pack.data();
          const std::int64_t t0 = k0 / p.kc, c0 = k0 % p.kc;
          if (c0 + kv <= p.kc) {  // the whole panel lies in one segment: copy kv contiguous floats per pixel
            for (std::int64_t mm = 0; mm < len; ++mm, ap += mr) {
              const float* src = seg[mm * p.taps + t0];
              std::int64_t r = 0;
              if (src)
                for (; r < kv; ++r) ap[r] = src[c0 + r];
              for (; r < mr; ++r) ap[r] = 0.0f;
            }
          } else {
            for (std::int64_t mm = 0; mm < len; ++mm, ap += mr)
              for (std::int64_t r = 0; r < mr; ++r) {
                const std::int64_t k = k0 + r, t = k / p.kc;
                const float* src = r < kv ? seg[mm * p.taps + t] : nullptr;
                ap[r] = src ? src[k % p.kc] : 0.0f;
              }
          }
          for (std::int64_t r = 0; r < mr; ++r) a_rows[r] = a_pack.data() + r;
          MicroTile t;
          t.taps = 1;
          t.kc = len;
          t.a = a_rows.data();
          t.a_step = mr;
          t.b = b_rows.data();
          t.c = c_rows.data();
          t.mv = kv;
          t.beta = ch == ch0 ? 0.0f : 1.0f;
          for (std::int64_t pj = 0; pj < panels; ++pj) {
            b_rows[0] = b_pack.data() + pj * len * nr;
            t.nv = std::min(nr, n - pj * nr);
            for (std::int64_t r = 0; r < kv; ++r) c_rows[r] = out + (k0 + r) * ldo + pj * nr;
            kt.tile(t);
          }
        }
      }
    }
  });
  if (supers > 1) {  // partial sums added in super-chunk order
    if (p.c)
      for (std::int64_t k = 0; k < kdim; ++k) {
        float* dst = p.c + k * p.ldc;
        for (std::int64_t j = 0; j < n; ++j) dst[j] = partial.data()[k * n + j];
        for (std::int64_t s = 1; s < supers; ++s) {
          const float* src = partial.data() + (s * kdim + k) * n;
          for (std::int64_t j = 0; j < n; ++j) dst[j] += src[j];
        }
      }
    if (p.db) {
      for (std::int64_t j = 0; j < n; ++j) p.db[j] = partial_db.data()[j];
      for (std::int64_t s = 1; s < supers; ++s)
        for (std::int64_t j = 0; j < n; ++j) p.db[j] += partial_db.data()[s * n + j];
    }
  }
}

}  // namespace convlite::gemm

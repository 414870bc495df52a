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
  for (std::int64_t kk = 0; kk < k; ++kk, dst += Nr, src += row_stride)
    for (int j = 0; j < Nr; ++j) dst[j] = src[j];
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
    for (std::int64_t p = p0; p < p1; ++p) {
      float* dst = base + p * k * nr;
      const std::int64_t j0 = p * nr, nv = std::min(nr, n - j0);
      if (col_stride == 1 && nv == nr && (nr == 8 || nr == 16 || nr == 32)) {
        const float* first = src + j0;
        if (nr == 8) copy_panel<8>(dst, first, k, row_stride);
        if (nr == 16) copy_panel<16>(dst, first, k, row_stride);
        if (nr == 32) copy_panel<32>(dst, first, k, row_stride);
        continue;
      }
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

void pad_bias(Buffer& out, const float* bias, std::int64_t n, std::int64_t nr) {
  out.resize((n + nr - 1) / nr * nr);
  std::memcpy(out.data(), bias, static_cast<std::size_t>(n) * sizeof(float));
}

namespace {

constexpr std::int64_t kChunk = 256;  // pixels reduced in registers per microkernel call (measured best)
alignas(64) const float kZeroRow[64] = {};  // a B row of zeros for padding pixels (nr <= 64)

float masked(float dz, const float* y, std::int64_t i, int activation, float slope) {
  if (activation == 0 || !y) return dz;
  if (y[i] > 0.0f) return dz;
  return activation == 2 ? dz * slope : 0.0f;
}

}  // namespace

// Computed transposed: C^T (n x kdim) = dz^T * Xcol, so that the long, contiguous Xcol rows are packed into NR
// panels with whole-vector copies (each reused by every MR-tile of dz^T), while the small dz side is packed into
// MR panels; the transposed result is written out once at the end.
void reduction_gemm_impl(const ReductionProblem& p,
                         void (*segs)(const void* ctx, std::int64_t m0, std::int64_t m1, const float** ptr),
                         const void* ctx) {
  const GemmKernels& kt = kernels();
  const std::int64_t mr = kt.mr, nr = kt.nr;
  const std::int64_t kdim = p.taps * p.kc, n = p.n;
  if (p.m <= 0 || (p.c && kdim <= 0 && !p.db)) {
    if (p.c)
      for (std::int64_t k = 0; k < kdim; ++k) std::fill(p.c + k * p.ldc, p.c + k * p.ldc + n, 0.0f);
    if (p.db) std::fill(p.db, p.db + n, 0.0f);
    return;
  }
  const std::int64_t chunks = (p.m + kChunk - 1) / kChunk;
  // Super-chunks depend on m alone, never on the thread count: that is what makes the sum reproducible.
  const std::int64_t supers = std::clamp<std::int64_t>(p.m / 4096, 1, std::min<std::int64_t>(8, chunks));
  const std::int64_t f_tiles = (n + mr - 1) / mr, k_panels = (kdim + nr - 1) / nr;
  const bool want_c = p.c && kdim > 0;
  const std::int64_t threads = get_num_threads();
  const std::int64_t k_groups =
      (!want_c || supers >= 2 * threads) ? 1 : std::min<std::int64_t>(k_panels, (2 * threads + supers - 1) / supers);
  // partial[s] is C^T of super-chunk s: n rows of kdim floats.
  float* partial = want_c ? workspace(Slot::partial, supers * n * kdim) : nullptr;
  float* partial_db = p.db ? workspace(Slot::partial_db, supers * n) : nullptr;
  const double cost =
      kFlopCost * 2.0 * static_cast<double>(kdim + 1) * n * (static_cast<double>(p.m) / supers) / k_groups;
  parallel_for(supers * k_groups, cost, [&](std::int64_t i0, std::int64_t i1) {
    float* a_pack = workspace(Slot::reduce_a, kChunk * f_tiles * mr);
    float* b_pack = workspace(Slot::reduce_b, kChunk * nr);
    std::vector<const float*> seg(kChunk * p.taps);
    std::vector<std::int64_t> seg_of(nr), off_of(nr);
    std::vector<const float*> a_rows(mr), b_rows(kChunk);
    const float* b_packed_row = b_pack;
    std::vector<float*> c_rows(mr);
    for (std::int64_t item = i0; item < i1; ++item) {
      const std::int64_t s = item / k_groups, g = item % k_groups;
      const std::int64_t ch0 = chunks * s / supers, ch1 = chunks * (s + 1) / supers;
      float* out = want_c ? partial + s * n * kdim : nullptr;
      float* db = (p.db && g == 0) ? partial_db + s * n : nullptr;
      if (db) std::fill(db, db + n, 0.0f);
      const std::int64_t kp0 = k_panels * g / k_groups, kp1 = k_panels * (g + 1) / k_groups;
      for (std::int64_t ch = ch0; ch < ch1; ++ch) {
        const std::int64_t m0 = ch * kChunk, m1 = std::min(p.m, m0 + kChunk), len = m1 - m0;
        // dz^T in MR panels (masked on the fly); the bias gradient sums the same values in m order.
        for (std::int64_t ft = 0; ft < f_tiles; ++ft) {
          const std::int64_t f0 = ft * mr, fv = std::min(mr, n - f0);
          float* dst = a_pack + ft * len * mr;
          if (fv < mr) std::fill(dst, dst + len * mr, 0.0f);  // once per tile, not a memset call per pixel
          for (std::int64_t mm = 0; mm < len; ++mm, dst += mr) {
            const std::int64_t row = (m0 + mm) * p.ldz + f0;
            for (std::int64_t r = 0; r < fv; ++r) {
              const float v = masked(p.dz[row + r], p.y, row + r, p.activation, p.negative_slope);
              dst[r] = v;
              if (db) db[f0 + r] += v;
            }
          }
        }
        if (!want_c) continue;
        // Xcol one NR panel at a time (it stays in L1 for every MR-tile of dz^T): a panel inside one segment is
        // one contiguous copy per pixel.
        segs(ctx, m0, m1, seg.data());
        MicroTile t;
        t.taps = 1;
        t.kc = len;
        t.a = a_rows.data();
        t.a_step = mr;
        t.b = b_rows.data();
        t.c = c_rows.data();
        t.beta = ch == ch0 ? 0.0f : 1.0f;
        for (std::int64_t kp = kp0; kp < kp1; ++kp) {
          const std::int64_t k0 = kp * nr, kv = std::min(nr, kdim - k0);
          const std::int64_t t0 = k0 / p.kc, c0 = k0 % p.kc;
          void (*tile)(const MicroTile&) = kt.tile;
          if (kv == nr && c0 + nr <= p.kc) {  // B rows are NHWC pixel slices already: point at them
            for (std::int64_t mm = 0; mm < len; ++mm) {
              const float* src = seg[mm * p.taps + t0];
              b_rows[mm] = src ? src + c0 : kZeroRow;
            }
            t.b = b_rows.data();
            tile = kt.tile_b_rows;
          } else {  // straddles segments or the end: pack this panel
            float* dst = b_pack;
            for (std::int64_t j = 0; j < nr; ++j) {
              seg_of[j] = j < kv ? (k0 + j) / p.kc : -1;
              off_of[j] = j < kv ? (k0 + j) % p.kc : 0;
            }
            for (std::int64_t mm = 0; mm < len; ++mm, dst += nr)
              for (std::int64_t j = 0; j < nr; ++j) {
                const float* src = seg_of[j] < 0 ? nullptr : seg[mm * p.taps + seg_of[j]];
                dst[j] = src ? src[off_of[j]] : 0.0f;
              }
            t.b = &b_packed_row;
          }
          t.nv = kv;
          for (std::int64_t ft = 0; ft < f_tiles; ++ft) {
            const std::int64_t f0 = ft * mr;
            for (std::int64_t r = 0; r < mr; ++r) a_rows[r] = a_pack + ft * len * mr + r;
            t.mv = std::min(mr, n - f0);
            for (std::int64_t r = 0; r < t.mv; ++r) c_rows[r] = out + (f0 + r) * kdim + k0;
            tile(t);
          }
        }
      }
    }
  });
  if (want_c)  // transpose out, adding the super-chunk partials in order
    for (std::int64_t k = 0; k < kdim; ++k) {
      float* dst = p.c + k * p.ldc;
      for (std::int64_t j = 0; j < n; ++j) dst[j] = partial[j * kdim + k];
      for (std::int64_t s = 1; s < supers; ++s) {
        const float* src = partial + s * n * kdim;
        for (std::int64_t j = 0; j < n; ++j) dst[j] += src[j * kdim + k];
      }
    }
  if (p.db) {
    for (std::int64_t j = 0; j < n; ++j) p.db[j] = partial_db[j];
    for (std::int64_t s = 1; s < supers; ++s)
      for (std::int64_t j = 0; j < n; ++j) p.db[j] += partial_db[s * n + j];
  }
}

}  // namespace convlite::gemm

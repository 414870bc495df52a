// Packing, the weight-gradient reduction driver, and the ISA choice for the GEMM family.
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

namespace {

constexpr std::int64_t kChunk = 256;  // pixels reduced in registers per microkernel call (measured best)
alignas(64) const float kZeroRow[64] = {};  // a B row of zeros for padding pixels (nr <= 64)

// Chunk [m0, m1) of dz, masked (vectorised, by the ISA's activation_grad), into MR panels of dz^T:
// dst[ft * len * mr + mm * mr + r] = dz'(m0 + mm, ft * mr + r), zero for filters >= n (dst may be null: only db).
// db (n floats, zeroed here) gets the column sums of the chunk in m order.
void pack_dz_chunk(const ReductionProblem& p, const GemmKernels& kt, std::int64_t m0, std::int64_t m1, float* dst,
                   float* db, float* row_buf) {
  const std::int64_t mr = kt.mr, n = p.n, len = m1 - m0, f_tiles = (n + mr - 1) / mr;
  const bool mask = p.activation != 0 && p.y;
  if (db) std::fill(db, db + n, 0.0f);
  if (dst && n % mr) std::fill(dst + (f_tiles - 1) * len * mr, dst + f_tiles * len * mr, 0.0f);
  for (std::int64_t mm = 0; mm < len; ++mm) {
    const std::int64_t at = (m0 + mm) * p.ldz;
    const float* row = p.dz + at;
    if (mask) {
      kt.activation_grad(row, p.y + at, row_buf, n, p.activation, p.negative_slope);
      row = row_buf;
    }
    if (db)
      for (std::int64_t j = 0; j < n; ++j) db[j] += row[j];
    if (!dst) continue;
    for (std::int64_t ft = 0; ft < f_tiles; ++ft) {
      const std::int64_t f0 = ft * mr, fv = std::min(mr, n - f0);
      float* d = dst + ft * len * mr + mm * mr;
      for (std::int64_t r = 0; r < fv; ++r) d[r] = row[f0 + r];
    }
  }
}

// Columns [k0, k0 + width) of Xcol for the chunk's rows, row-major with row stride `width` (a multiple of nr),
// zero beyond kdim: used when NR panels straddle segments (kc not a multiple of nr), so that every panel's B rows
// are contiguous again.
void gather_xcol(const ReductionProblem& p, const float* const* seg, std::int64_t len, std::int64_t k0,
                 std::int64_t width, float* dst) {
  const std::int64_t kdim = p.taps * p.kc, k1 = std::min(kdim, k0 + width);
  const std::int64_t t0 = k0 / p.kc, t1 = (k1 + p.kc - 1) / p.kc;
  for (std::int64_t mm = 0; mm < len; ++mm, dst += width) {
    for (std::int64_t t = t0; t < t1; ++t) {
      const std::int64_t lo = std::max(k0, t * p.kc), hi = std::min(k1, (t + 1) * p.kc);
      const float* src = seg[mm * p.taps + t];
      float* d = dst + (lo - k0);
      if (src)
        std::memcpy(d, src + (lo - t * p.kc), static_cast<std::size_t>(hi - lo) * sizeof(float));
      else
        std::fill(d, d + (hi - lo), 0.0f);
    }
    for (std::int64_t i = k1 - k0; i < width; ++i) dst[i] = 0.0f;
  }
}

}  // namespace

// Computed transposed: C^T (n x kdim) = dz^T * Xcol, so that the long, contiguous Xcol rows feed the NR side (in
// place when a panel lies inside one segment, else gathered per chunk), each B row reused by every MR-tile of
// dz^T, while the small dz side is packed into MR panels; the transposed result is written out once at the end.
// Order of every sum (fixed by m alone): C over chunks in order within a super-chunk, super-chunks in order;
// db per chunk in m order, chunks in order.
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
  // Threads also split the K panels when super-chunks are few (never on one thread: the split only adds passes).
  const std::int64_t k_groups = (!want_c || threads <= 1 || supers >= 2 * threads)
                                    ? 1
                                    : std::min<std::int64_t>(k_panels, (2 * threads + supers - 1) / supers);
  const std::int64_t a_floats = f_tiles * mr * kChunk;  // one chunk's dz^T panels
  // With several k-groups every group needs the same dz^T: form it once for all chunks in a first pass.
  const bool shared_a = want_c && k_groups > 1;
  const bool gather_b = want_c && p.taps > 1 && p.kc % nr != 0;
  // partial[s] is C^T of super-chunk s: n rows of kdim floats.
  float* partial = want_c ? workspace(Slot::partial, supers * n * kdim) : nullptr;
  float* chunk_db = p.db ? workspace(Slot::partial_db, chunks * n) : nullptr;
  float* dzt = shared_a ? workspace(Slot::reduce_dzt, chunks * a_floats) : nullptr;
  if (!want_c || shared_a)
    parallel_for(chunks, 3.0 * kChunk * n, [&](std::int64_t c0, std::int64_t c1) {
      std::vector<float> row_buf(n);
      for (std::int64_t ch = c0; ch < c1; ++ch)
        pack_dz_chunk(p, kt, ch * kChunk, std::min(p.m, (ch + 1) * kChunk), dzt ? dzt + ch * a_floats : nullptr,
                      chunk_db ? chunk_db + ch * n : nullptr, row_buf.data());
    });
  if (want_c) {
    const double cost = conv_flop_cost(std::min(kdim, n)) * 2.0 * static_cast<double>(kdim + 1) * n *
                        (static_cast<double>(p.m) / supers) / k_groups;
    parallel_for(supers * k_groups, cost, [&](std::int64_t i0, std::int64_t i1) {
      const std::int64_t group_width = (k_panels + k_groups - 1) / k_groups * nr;
      float* a_own = shared_a ? nullptr : workspace(Slot::reduce_a, a_floats);
      float* b_pack = workspace(Slot::reduce_b, kChunk * (gather_b ? group_width : nr));
      std::vector<float> row_buf(n);
      std::vector<const float*> seg(kChunk * p.taps);
      std::vector<std::int64_t> seg_of(nr), off_of(nr);
      std::vector<const float*> a_rows(mr), b_rows(kChunk);
      const float* b_packed_row = b_pack;
      std::vector<float*> c_rows(mr);
      for (std::int64_t item = i0; item < i1; ++item) {
        const std::int64_t s = item / k_groups, g = item % k_groups;
        const std::int64_t ch0 = chunks * s / supers, ch1 = chunks * (s + 1) / supers;
        float* out = partial + s * n * kdim;
        const std::int64_t kp0 = k_panels * g / k_groups, kp1 = k_panels * (g + 1) / k_groups;
        for (std::int64_t ch = ch0; ch < ch1; ++ch) {
          const std::int64_t m0 = ch * kChunk, m1 = std::min(p.m, m0 + kChunk), len = m1 - m0;
          const float* a_pack = a_own;
          if (shared_a)
            a_pack = dzt + ch * a_floats;
          else  // k_groups == 1: this item is the only one to see the chunk
            pack_dz_chunk(p, kt, m0, m1, a_own, chunk_db ? chunk_db + ch * n : nullptr, row_buf.data());
          segs(ctx, m0, m1, seg.data());
          if (gather_b) gather_xcol(p, seg.data(), len, kp0 * nr, (kp1 - kp0) * nr, b_pack);
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
            void (*tile)(const MicroTile&) = kt.tile_b_rows;
            t.b = b_rows.data();
            if (gather_b) {  // rows of the gathered chunk
              const std::int64_t width = (kp1 - kp0) * nr;
              for (std::int64_t mm = 0; mm < len; ++mm) b_rows[mm] = b_pack + mm * width + (kp - kp0) * nr;
            } else if (kv == nr && c0 + nr <= p.kc) {  // B rows are NHWC pixel slices already: point at them
              for (std::int64_t mm = 0; mm < len; ++mm) {
                const float* src = seg[mm * p.taps + t0];
                b_rows[mm] = src ? src + c0 : kZeroRow;
              }
            } else {  // the last, partial panel: pack it
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
              tile = kt.tile;
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
    // transpose out, adding the super-chunk partials in order
    for (std::int64_t k = 0; k < kdim; ++k) {
      float* dst = p.c + k * p.ldc;
      for (std::int64_t j = 0; j < n; ++j) dst[j] = partial[j * kdim + k];
      for (std::int64_t s = 1; s < supers; ++s) {
        const float* src = partial + s * n * kdim;
        for (std::int64_t j = 0; j < n; ++j) dst[j] += src[j * kdim + k];
      }
    }
  }
  if (p.db) {
    for (std::int64_t j = 0; j < n; ++j) p.db[j] = chunk_db[j];
    for (std::int64_t ch = 1; ch < chunks; ++ch)
      for (std::int64_t j = 0; j < n; ++j) p.db[j] += chunk_db[ch * n + j];
  }
}

}  // namespace convlite::gemm

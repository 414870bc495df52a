// AVX2+FMA GEMM microkernel: a 6x16 tile in 12 named ymm accumulators (an array would live on the stack with
// GCC), 2 ymm for the B row and 1 broadcast: 15 of 16 registers, 12 FMAs per 8 loads in the k loop.
#include <immintrin.h>

#include <algorithm>

#include "kernels/gemm_kernels.hpp"

namespace convlite {
namespace {

#include "kernels/epilogue_avx2.inc"

constexpr int kMr = 6, kNr = 16;

// One row of the finished tile: beta * C, bias, activation, then a full or partial store.
__attribute__((always_inline)) inline void finish_row(__m256 v0, __m256 v1, float* c, const MicroTile& t) {
  alignas(32) float tmp[kNr];
  const bool full = t.nv == kNr;
  if (t.beta != 0.0f) {
    const __m256 beta = _mm256_set1_ps(t.beta);
    __m256 c0, c1;
    if (full) {
      c0 = _mm256_loadu_ps(c), c1 = _mm256_loadu_ps(c + 8);
    } else {
      for (int j = 0; j < kNr; ++j) tmp[j] = j < t.nv ? c[j] : 0.0f;
      c0 = _mm256_load_ps(tmp), c1 = _mm256_load_ps(tmp + 8);
    }
    v0 = _mm256_add_ps(v0, _mm256_mul_ps(beta, c0));
    v1 = _mm256_add_ps(v1, _mm256_mul_ps(beta, c1));
  }
  if (t.bias) {
    v0 = _mm256_add_ps(v0, _mm256_loadu_ps(t.bias));
    v1 = _mm256_add_ps(v1, _mm256_loadu_ps(t.bias + 8));
  }
  if (t.activation != 0) {
    const __m256 slope = _mm256_set1_ps(t.negative_slope);
    v0 = activate(v0, t.activation, slope);
    v1 = activate(v1, t.activation, slope);
  }
  if (full) {
    _mm256_storeu_ps(c, v0);
    _mm256_storeu_ps(c + 8, v1);
  } else {
    _mm256_store_ps(tmp, v0);
    _mm256_store_ps(tmp + 8, v1);
    for (int j = 0; j < t.nv; ++j) c[j] = tmp[j];
  }
}

// The end of a tile: the 12 accumulators to C (beta * C, bias, activation).
__attribute__((always_inline)) inline void finish_tile(const MicroTile& t, __m256 c00, __m256 c01, __m256 c10,
                                                       __m256 c11, __m256 c20, __m256 c21, __m256 c30,
                                                       __m256 c31, __m256 c40, __m256 c41, __m256 c50,
                                                       __m256 c51) {
  const std::int64_t mv = t.mv;
  if (mv == kMr && t.nv == kNr && !t.bias && t.activation == 0 && (t.beta == 0.0f || t.beta == 1.0f)) {
    // The K blocks before the last of a large GEMM: a full tile stored or added to C (1 * C is C exactly, so
    // this is bit-identical to finish_row), straight-line, without finish_row's per-row tests.
    float* const* c = t.c;
    if (t.beta != 0.0f) {
#define CONVLITE_ADD_ROW(r)                                                                      \
  _mm256_storeu_ps(c[r], _mm256_add_ps(c##r##0, _mm256_loadu_ps(c[r])));                         \
  _mm256_storeu_ps(c[r] + 8, _mm256_add_ps(c##r##1, _mm256_loadu_ps(c[r] + 8)));
      CONVLITE_ADD_ROW(0) CONVLITE_ADD_ROW(1) CONVLITE_ADD_ROW(2)
      CONVLITE_ADD_ROW(3) CONVLITE_ADD_ROW(4) CONVLITE_ADD_ROW(5)
#undef CONVLITE_ADD_ROW
    } else {
#define CONVLITE_STORE_ROW(r) _mm256_storeu_ps(c[r], c##r##0); _mm256_storeu_ps(c[r] + 8, c##r##1);
      CONVLITE_STORE_ROW(0) CONVLITE_STORE_ROW(1) CONVLITE_STORE_ROW(2)
      CONVLITE_STORE_ROW(3) CONVLITE_STORE_ROW(4) CONVLITE_STORE_ROW(5)
#undef CONVLITE_STORE_ROW
    }
    _mm256_zeroupper();
    return;
  }
  finish_row(c00, c01, t.c[0], t);
  if (mv > 1) finish_row(c10, c11, t.c[1], t);
  if (mv > 2) finish_row(c20, c21, t.c[2], t);
  if (mv > 3) finish_row(c30, c31, t.c[3], t);
  if (mv > 4) finish_row(c40, c41, t.c[4], t);
  if (mv > 5) finish_row(c50, c51, t.c[5], t);
  // Back to baseline (SSE-encoded) driver code with clean upper halves: GCC leaves them dirty when the last
  // finish_row is a tail call, and the SSE code after each tile then ran measurably slower (sgemm 1024^3: 8%).
  _mm256_zeroupper();
}

#define CONVLITE_ROW_FMA(r)                               \
  av = _mm256_broadcast_ss(a##r);                         \
  c##r##0 = _mm256_fmadd_ps(av, b0, c##r##0);             \
  c##r##1 = _mm256_fmadd_ps(av, b1, c##r##1);             \
  a##r += step;

// One k step of the packed-A loop in inline assembly (AT&T operand order): B row at byte offset bo of b, the 6
// A values at byte offset ao of a. GCC, given the same step in intrinsics unrolled, interleaves steps, renames
// accumulators and spills two of them; here the 12 accumulators, 2 B registers and 1 broadcast stay in 15 ymm.
// Each accumulator gets fma(a, b, acc) in k order, exactly as in the general loop.
#define CONVLITE_ASM_ROW(ao, r)                 \
  "vbroadcastss " #ao "(%[a]), %[av]\n\t"       \
  "vfmadd231ps %[b0], %[av], %[c" #r "0]\n\t"   \
  "vfmadd231ps %[b1], %[av], %[c" #r "1]\n\t"
#define CONVLITE_ASM_STEP(bo, bo8, a0, a1, a2, a3, a4, a5) \
  "vmovups " #bo "(%[b]), %[b0]\n\t"                       \
  "vmovups " #bo8 "(%[b]), %[b1]\n\t"                      \
  CONVLITE_ASM_ROW(a0, 0) CONVLITE_ASM_ROW(a1, 1) CONVLITE_ASM_ROW(a2, 2) CONVLITE_ASM_ROW(a3, 3)      \
  CONVLITE_ASM_ROW(a4, 4) CONVLITE_ASM_ROW(a5, 5)
#define CONVLITE_ASM_OPERANDS                                                                              \
  [c00] "+x"(c00), [c01] "+x"(c01), [c10] "+x"(c10), [c11] "+x"(c11), [c20] "+x"(c20), [c21] "+x"(c21),   \
  [c30] "+x"(c30), [c31] "+x"(c31), [c40] "+x"(c40), [c41] "+x"(c41), [c50] "+x"(c50), [c51] "+x"(c51),   \
  [b0] "=&x"(b0), [b1] "=&x"(b1), [av] "=&x"(av)

// The same for a tile of at most 4 valid rows (the last row tile of 64 rows is 4 of 6): rows 4 and 5 are never
// stored, so their FMAs are left out (a third less work for that tile); rows 0-3 get the same FMAs as above.
#define CONVLITE_ASM_STEP4(bo, bo8, a0, a1, a2, a3) \
  "vmovups " #bo "(%[b]), %[b0]\n\t"                 \
  "vmovups " #bo8 "(%[b]), %[b1]\n\t"                \
  CONVLITE_ASM_ROW(a0, 0) CONVLITE_ASM_ROW(a1, 1) CONVLITE_ASM_ROW(a2, 2) CONVLITE_ASM_ROW(a3, 3)
#define CONVLITE_ASM_OPERANDS4                                                                             \
  [c00] "+x"(c00), [c01] "+x"(c01), [c10] "+x"(c10), [c11] "+x"(c11), [c20] "+x"(c20), [c21] "+x"(c21),   \
  [c30] "+x"(c30), [c31] "+x"(c31), [b0] "=&x"(b0), [b1] "=&x"(b1), [av] "=&x"(av)

// The k loop over a packed A panel (a, mr floats per k) and a packed B (b, nr floats per k), unrolled by 4 with
// B prefetched a few rows ahead; after_chunk runs after each 4 k. Expects kc, a, b, b0, b1, av and the 12
// accumulators in scope; leaves a and b past the end.
#define CONVLITE_PACKED_K_LOOP(mv, after_chunk)                                                            \
  {                                                                                                        \
    std::int64_t k = 0;                                                                                    \
    if ((mv) > 4) {                                                                                        \
      for (; k + 4 <= kc; k += 4) {                                                                        \
        __asm__(CONVLITE_ASM_STEP(0, 32, 0, 4, 8, 12, 16, 20) "prefetcht0 512(%[b])\n\t"                   \
                CONVLITE_ASM_STEP(64, 96, 24, 28, 32, 36, 40, 44) "prefetcht0 576(%[b])\n\t"               \
                CONVLITE_ASM_STEP(128, 160, 48, 52, 56, 60, 64, 68) "prefetcht0 640(%[b])\n\t"             \
                CONVLITE_ASM_STEP(192, 224, 72, 76, 80, 84, 88, 92) "prefetcht0 704(%[b])\n\t"             \
                : CONVLITE_ASM_OPERANDS                                                                    \
                : [a] "r"(a), [b] "r"(b)                                                                   \
                : "memory");                                                                               \
        a += 4 * kMr;                                                                                      \
        b += 4 * kNr;                                                                                      \
        after_chunk;                                                                                       \
      }                                                                                                    \
      for (; k < kc; ++k) {                                                                                \
        __asm__(CONVLITE_ASM_STEP(0, 32, 0, 4, 8, 12, 16, 20)                                              \
                : CONVLITE_ASM_OPERANDS                                                                    \
                : [a] "r"(a), [b] "r"(b)                                                                   \
                : "memory");                                                                               \
        a += kMr;                                                                                          \
        b += kNr;                                                                                          \
      }                                                                                                    \
    } else {                                                                                               \
      for (; k + 4 <= kc; k += 4) {                                                                        \
        __asm__(CONVLITE_ASM_STEP4(0, 32, 0, 4, 8, 12) "prefetcht0 512(%[b])\n\t"                          \
                CONVLITE_ASM_STEP4(64, 96, 24, 28, 32, 36) "prefetcht0 576(%[b])\n\t"                      \
                CONVLITE_ASM_STEP4(128, 160, 48, 52, 56, 60) "prefetcht0 640(%[b])\n\t"                    \
                CONVLITE_ASM_STEP4(192, 224, 72, 76, 80, 84) "prefetcht0 704(%[b])\n\t"                    \
                : CONVLITE_ASM_OPERANDS4                                                                   \
                : [a] "r"(a), [b] "r"(b)                                                                   \
                : "memory");                                                                               \
        a += 4 * kMr;                                                                                      \
        b += 4 * kNr;                                                                                      \
        after_chunk;                                                                                       \
      }                                                                                                    \
      for (; k < kc; ++k) {                                                                                \
        __asm__(CONVLITE_ASM_STEP4(0, 32, 0, 4, 8, 12)                                                     \
                : CONVLITE_ASM_OPERANDS4                                                                   \
                : [a] "r"(a), [b] "r"(b)                                                                   \
                : "memory");                                                                               \
        a += kMr;                                                                                          \
        b += kNr;                                                                                          \
      }                                                                                                    \
    }                                                                                                      \
  }

// C comes in from L2/L3 while the k loop runs (also when it is only written: the store then finds its line).
inline void prefetch_c(const MicroTile& t) {
  if (t.beta == 0.0f && t.kc < 64) return;
  for (std::int64_t r = 0; r < t.mv; ++r) {
    _mm_prefetch(reinterpret_cast<const char*>(t.c[r]), _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(t.c[r] + 15), _MM_HINT_T0);
  }
}

void tile_6x16(const MicroTile& t) {
  __m256 c00 = _mm256_setzero_ps(), c01 = _mm256_setzero_ps(), c10 = _mm256_setzero_ps(),
         c11 = _mm256_setzero_ps(), c20 = _mm256_setzero_ps(), c21 = _mm256_setzero_ps(),
         c30 = _mm256_setzero_ps(), c31 = _mm256_setzero_ps(), c40 = _mm256_setzero_ps(),
         c41 = _mm256_setzero_ps(), c50 = _mm256_setzero_ps(), c51 = _mm256_setzero_ps();
  const std::int64_t kc = t.kc, step = t.a_step;
  prefetch_c(t);
  for (std::int64_t tap = 0; tap < t.taps; ++tap) {
    const float* const* ap = t.a + tap * kMr;
    const float *a0 = ap[0], *a1 = ap[1], *a2 = ap[2], *a3 = ap[3], *a4 = ap[4], *a5 = ap[5];
    const float* b = t.b[tap];
    if (step == kMr && a1 == a0 + 1 && a2 == a0 + 2 && a3 == a0 + 3 && a4 == a0 + 4 && a5 == a0 + 5) {
      // A packed into an MR-panel: one pointer, k unrolled by 4, B prefetched a few rows ahead. Each accumulator
      // sees the same FMAs in the same order as the general loop below, so results are bit-identical.
      const float* a = a0;
      __m256 b0, b1, av;
      CONVLITE_PACKED_K_LOOP(t.mv, (void)0)
      continue;
    }
    for (std::int64_t k = 0; k < kc; ++k) {
      const __m256 b0 = _mm256_loadu_ps(b), b1 = _mm256_loadu_ps(b + 8);
      __m256 av;
      CONVLITE_ROW_FMA(0)
      CONVLITE_ROW_FMA(1)
      CONVLITE_ROW_FMA(2)
      CONVLITE_ROW_FMA(3)
      CONVLITE_ROW_FMA(4)
      CONVLITE_ROW_FMA(5)
      b += kNr;
    }
  }
  finish_tile(t, c00, c01, c10, c11, c20, c21, c30, c31, c40, c41, c50, c51);
}

// One k step of tile_stream's in-place loop: the B row at b (one or two lines of a row-major B) to the registers
// and to the packed panel at p, then the 6 rows' FMAs as in CONVLITE_ASM_STEP. Two loads and two stores beside
// 12 FMAs per k (Zen3: 3 loads, 2 stores per cycle; 6 cycles per k).
#define CONVLITE_ASM_PACK_STEP(po, po8, a0, a1, a2, a3, a4, a5)                                            \
  __asm__("vmovups (%[b]), %[b0]\n\t"                                                                     \
          "vmovups 32(%[b]), %[b1]\n\t"                                                                   \
          "vmovups %[b0], " #po "(%[p])\n\t"                                                              \
          "vmovups %[b1], " #po8 "(%[p])\n\t"                                                             \
          CONVLITE_ASM_ROW(a0, 0) CONVLITE_ASM_ROW(a1, 1) CONVLITE_ASM_ROW(a2, 2) CONVLITE_ASM_ROW(a3, 3) \
          CONVLITE_ASM_ROW(a4, 4) CONVLITE_ASM_ROW(a5, 5)                                                 \
          : CONVLITE_ASM_OPERANDS                                                                          \
          : [a] "r"(a), [b] "r"(b), [p] "r"(p)                                                             \
          : "memory");                                                                                    \
  b += stride;

// tile_6x16 on a packed A with B as BStream says: read in place and packed as used, or packed already; and
// the prefetch rows spread evenly over the k loop (a few per 4 k steps at most). Same FMAs in the same order as
// tile_6x16, so bit-identical.
void tile_6x16_stream(const MicroTile& t, const BStream& s) {
  const float* const* ap = t.a;
  const bool packed_a = t.a_step == kMr && ap[1] == ap[0] + 1 && ap[2] == ap[0] + 2 && ap[3] == ap[0] + 3 &&
                        ap[4] == ap[0] + 4 && ap[5] == ap[0] + 5;
  if (!packed_a || t.taps != 1) {  // not what the small-M driver sends: pack, then the ordinary tile
    const float* packed = t.b[0];
    if (s.src) {
      for (std::int64_t k = 0; k < t.kc; ++k) {
        _mm256_storeu_ps(s.pack + k * kNr, _mm256_loadu_ps(s.src + k * s.src_stride));
        _mm256_storeu_ps(s.pack + k * kNr + 8, _mm256_loadu_ps(s.src + k * s.src_stride + 8));
      }
      packed = s.pack;
    }
    MicroTile u = t;
    u.b = &packed;
    tile_6x16(u);
    return;
  }
  __m256 c00 = _mm256_setzero_ps(), c01 = _mm256_setzero_ps(), c10 = _mm256_setzero_ps(),
         c11 = _mm256_setzero_ps(), c20 = _mm256_setzero_ps(), c21 = _mm256_setzero_ps(),
         c30 = _mm256_setzero_ps(), c31 = _mm256_setzero_ps(), c40 = _mm256_setzero_ps(),
         c41 = _mm256_setzero_ps(), c50 = _mm256_setzero_ps(), c51 = _mm256_setzero_ps();
  const std::int64_t kc = t.kc;
  prefetch_c(t);
  const float* a = ap[0];
  // Prefetch rows: after 4-k chunk q, rows up to (q + 1) * rows / chunks are issued (counted without a
  // division), each row's first and last byte (two lines when the row straddles them).
  const std::int64_t chunks = kc / 4 > 0 ? kc / 4 : 1, pf_total = s.prefetch ? s.prefetch_rows : 0;
  const char* pf = reinterpret_cast<const char*>(s.prefetch);
  const std::int64_t pf_stride = s.prefetch_stride * static_cast<std::int64_t>(sizeof(float));
  std::int64_t pf_credit = 0;  // pf_total per chunk, spent in units of `chunks` per row
  auto prefetch_due = [&]() {
    for (pf_credit += pf_total; pf_credit >= chunks; pf_credit -= chunks, pf += pf_stride) {
      _mm_prefetch(pf, _MM_HINT_T0);
      _mm_prefetch(pf + 63, _MM_HINT_T0);
    }
  };
  __m256 b0, b1, av;
  if (s.src) {
    std::int64_t k = 0;
    const char* b = reinterpret_cast<const char*>(s.src);
    const std::int64_t stride = s.src_stride * static_cast<std::int64_t>(sizeof(float));
    float* p = s.pack;
    for (; k + 4 <= kc; k += 4) {
      CONVLITE_ASM_PACK_STEP(0, 32, 0, 4, 8, 12, 16, 20)
      CONVLITE_ASM_PACK_STEP(64, 96, 24, 28, 32, 36, 40, 44)
      CONVLITE_ASM_PACK_STEP(128, 160, 48, 52, 56, 60, 64, 68)
      CONVLITE_ASM_PACK_STEP(192, 224, 72, 76, 80, 84, 88, 92)
      a += 4 * kMr;
      p += 4 * kNr;
      prefetch_due();
    }
    for (; k < kc; ++k) {
      CONVLITE_ASM_PACK_STEP(0, 32, 0, 4, 8, 12, 16, 20)
      a += kMr;
      p += kNr;
    }
  } else {
    const float* b = t.b[0];
    CONVLITE_PACKED_K_LOOP(t.mv, prefetch_due())
  }
  finish_tile(t, c00, c01, c10, c11, c20, c21, c30, c31, c40, c41, c50, c51);
}

#undef CONVLITE_ASM_PACK_STEP

void tile_6x16_b_rows(const MicroTile& t) {
  __m256 c00 = _mm256_setzero_ps(), c01 = _mm256_setzero_ps(), c10 = _mm256_setzero_ps(),
         c11 = _mm256_setzero_ps(), c20 = _mm256_setzero_ps(), c21 = _mm256_setzero_ps(),
         c30 = _mm256_setzero_ps(), c31 = _mm256_setzero_ps(), c40 = _mm256_setzero_ps(),
         c41 = _mm256_setzero_ps(), c50 = _mm256_setzero_ps(), c51 = _mm256_setzero_ps();
  const std::int64_t kc = t.kc, step = t.a_step;
  if (t.beta != 0.0f)
    for (std::int64_t r = 0; r < t.mv; ++r) {
      _mm_prefetch(reinterpret_cast<const char*>(t.c[r]), _MM_HINT_T0);
      _mm_prefetch(reinterpret_cast<const char*>(t.c[r] + 15), _MM_HINT_T0);
    }
  const float *a0 = t.a[0], *a1 = t.a[1], *a2 = t.a[2], *a3 = t.a[3], *a4 = t.a[4], *a5 = t.a[5];
  const float* const* brow = t.b;
  for (std::int64_t k = 0; k < kc; ++k) {
    const float* b = brow[k];
    const __m256 b0 = _mm256_loadu_ps(b), b1 = _mm256_loadu_ps(b + 8);
    __m256 av;
    CONVLITE_ROW_FMA(0)
    CONVLITE_ROW_FMA(1)
    CONVLITE_ROW_FMA(2)
    CONVLITE_ROW_FMA(3)
    CONVLITE_ROW_FMA(4)
    CONVLITE_ROW_FMA(5)
  }
  const std::int64_t mv = t.mv;
  finish_row(c00, c01, t.c[0], t);
  if (mv > 1) finish_row(c10, c11, t.c[1], t);
  if (mv > 2) finish_row(c20, c21, t.c[2], t);
  if (mv > 3) finish_row(c30, c31, t.c[3], t);
  if (mv > 4) finish_row(c40, c41, t.c[4], t);
  if (mv > 5) finish_row(c50, c51, t.c[5], t);
  _mm256_zeroupper();  // as in tile_6x16
}

#undef CONVLITE_ROW_FMA
#undef CONVLITE_ASM_ROW
#undef CONVLITE_ASM_STEP
#undef CONVLITE_ASM_OPERANDS
#undef CONVLITE_ASM_STEP4
#undef CONVLITE_ASM_OPERANDS4
#undef CONVLITE_PACKED_K_LOOP

void activation_grad(const float* dy, const float* y, float* dz, std::int64_t n, int activation, float slope) {
  const __m256 zero = _mm256_setzero_ps(), s = _mm256_set1_ps(slope);
  std::int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 g = _mm256_loadu_ps(dy + i);
    const __m256 pos = _mm256_cmp_ps(_mm256_loadu_ps(y + i), zero, _CMP_GT_OQ);
    __m256 v = g;
    if (activation == 1) v = _mm256_and_ps(g, pos);
    if (activation == 2) v = _mm256_blendv_ps(_mm256_mul_ps(g, s), g, pos);
    _mm256_storeu_ps(dz + i, v);
  }
  for (; i < n; ++i) {
    if (activation == 1)
      dz[i] = y[i] > 0.0f ? dy[i] : 0.0f;
    else if (activation == 2)
      dz[i] = y[i] > 0.0f ? dy[i] : dy[i] * slope;
    else
      dz[i] = dy[i];
  }
}

// Distinct starting values: ten identical chains are one chain to the compiler (GCC merged them into a single
// latency-bound FMA per iteration, and the count of ten then reported 1.25x the real peak).
double fma_peak(std::int64_t iterations) {
  __m256 a0 = _mm256_set1_ps(0.1f), a1 = _mm256_set1_ps(0.2f), a2 = _mm256_set1_ps(0.3f), a3 = _mm256_set1_ps(0.4f),
         a4 = _mm256_set1_ps(0.5f), a5 = _mm256_set1_ps(0.6f), a6 = _mm256_set1_ps(0.7f), a7 = _mm256_set1_ps(0.8f),
         a8 = _mm256_set1_ps(0.9f), a9 = _mm256_set1_ps(1.0f);
  const __m256 m = _mm256_set1_ps(0.999999f), c = _mm256_set1_ps(1e-7f);
  for (std::int64_t i = 0; i < iterations; ++i) {
    a0 = _mm256_fmadd_ps(a0, m, c), a1 = _mm256_fmadd_ps(a1, m, c), a2 = _mm256_fmadd_ps(a2, m, c);
    a3 = _mm256_fmadd_ps(a3, m, c), a4 = _mm256_fmadd_ps(a4, m, c), a5 = _mm256_fmadd_ps(a5, m, c);
    a6 = _mm256_fmadd_ps(a6, m, c), a7 = _mm256_fmadd_ps(a7, m, c), a8 = _mm256_fmadd_ps(a8, m, c);
    a9 = _mm256_fmadd_ps(a9, m, c);
  }
  const __m256 sum = _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)),
                                   _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(a4, a5), _mm256_add_ps(a6, a7)),
                                                 _mm256_add_ps(a8, a9)));
  alignas(32) float out[8];
  _mm256_store_ps(out, sum);
  volatile float sink = out[0];
  (void)sink;
  return 2.0 * 8 * 10 * static_cast<double>(iterations);
}

constexpr GemmKernels kAvx2Table = {kMr, kNr, &tile_6x16, &tile_6x16_b_rows, &activation_grad, &fma_peak,
                                    &gemm_dot_rows_avx2, &tile_6x16_stream};

}  // namespace

const GemmKernels& gemm_kernels_avx2() { return kAvx2Table; }

}  // namespace convlite

// What this CPU can do at best for the kernels issue 4's speed bars name: how fast one core (or all) streams the
// access patterns of relu, its backward and Adam through memory, and what the divider and an accurate vector exp
// cost. Standalone and written plainly (no convlite code), so the ceilings do not depend on our kernels: a bar that
// needs more than these is out of reach for any implementation on this machine, ours or TensorFlow's.
//
// Build and run: bench/ceilings/run.sh (compiles with -O2 -mavx2 -mfma -fopenmp: a probe for this machine, never
// part of the wheel). Cycles are counted in units of the FMA pipes' own rate (two 8-wide FMAs per cycle, as on
// Zen3 and Intel cores since Haswell), measured first, so no clock frequency is assumed.
#include <immintrin.h>
#include <omp.h>
#include <sys/mman.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

// Median seconds per call of fn over `samples` samples of `calls` calls each.
template <class F>
double median_seconds(F fn, int samples, int calls) {
  for (int i = 0; i < 3; ++i) fn();
  std::vector<double> t;
  for (int s = 0; s < samples; ++s) {
    const auto t0 = Clock::now();
    for (int c = 0; c < calls; ++c) fn();
    t.push_back(std::chrono::duration<double>(Clock::now() - t0).count() / calls);
  }
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

volatile float g_sink;
void sink(__m256 v) { g_sink = _mm256_cvtss_f32(v); }

// ------------------------------------------------------------------ compute: FMA rate, divider, exp
// Twelve independent FMA chains (named registers: an array of vectors may live in memory): enough to cover the FMA
// latency (4 cycles) on two pipes, so 4096 iterations take 4096 * 6 cycles.
void fma_loop() {
  __m256 c = _mm256_set1_ps(0.999f), d = _mm256_set1_ps(0.001f);
  asm("" : "+x"(c), "+x"(d));  // keep the constants in registers rather than a load folded into every FMA
  // Distinct starting values: chains that start equal would be computed once (the compiler merges them).
  __m256 a0 = _mm256_set1_ps(1.0f), a1 = _mm256_set1_ps(1.1f), a2 = _mm256_set1_ps(1.2f);
  __m256 a3 = _mm256_set1_ps(1.3f), a4 = _mm256_set1_ps(1.4f), a5 = _mm256_set1_ps(1.5f);
  __m256 a6 = _mm256_set1_ps(1.6f), a7 = _mm256_set1_ps(1.7f), a8 = _mm256_set1_ps(1.8f);
  __m256 a9 = _mm256_set1_ps(1.9f), a10 = _mm256_set1_ps(2.0f), a11 = _mm256_set1_ps(2.1f);
  for (int i = 0; i < 4096; ++i) {
    a0 = _mm256_fmadd_ps(a0, c, d), a1 = _mm256_fmadd_ps(a1, c, d), a2 = _mm256_fmadd_ps(a2, c, d);
    a3 = _mm256_fmadd_ps(a3, c, d), a4 = _mm256_fmadd_ps(a4, c, d), a5 = _mm256_fmadd_ps(a5, c, d);
    a6 = _mm256_fmadd_ps(a6, c, d), a7 = _mm256_fmadd_ps(a7, c, d), a8 = _mm256_fmadd_ps(a8, c, d);
    a9 = _mm256_fmadd_ps(a9, c, d), a10 = _mm256_fmadd_ps(a10, c, d), a11 = _mm256_fmadd_ps(a11, c, d);
  }
  const __m256 s0 = _mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3));
  const __m256 s1 = _mm256_add_ps(_mm256_add_ps(a4, a5), _mm256_add_ps(a6, a7));
  sink(_mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(_mm256_add_ps(a8, a9), _mm256_add_ps(a10, a11))));
}
constexpr double kFmaLoopCycles = 4096 * 6.0;

// Cycles per call of fn, in FMA-pipe cycles: each sample times fma_loop and fn back to back and keeps the ratio,
// so a clock that changes between samples (turbo, a busy neighbour) cancels; the median of the ratios.
template <class F>
double cycles_of(F fn, int calls) {
  for (int i = 0; i < 3; ++i) fn(), fma_loop();
  std::vector<double> ratio;
  for (int s = 0; s < 31; ++s) {
    auto t0 = Clock::now();
    for (int c = 0; c < 20; ++c) fma_loop();
    const double fma = std::chrono::duration<double>(Clock::now() - t0).count() / 20;
    t0 = Clock::now();
    for (int c = 0; c < calls; ++c) fn();
    const double t = std::chrono::duration<double>(Clock::now() - t0).count() / calls;
    ratio.push_back(t / fma * kFmaLoopCycles);
  }
  std::sort(ratio.begin(), ratio.end());
  return ratio[ratio.size() / 2];
}

// Eight independent divisions / square roots per iteration: throughput, not latency.
template <bool kSqrt>
inline __m256 divider_op(__m256 b, __m256 a) { return kSqrt ? _mm256_sqrt_ps(a) : _mm256_div_ps(b, a); }

template <bool kSqrt>
double divider_cycles() {
  return cycles_of([] {
    const __m256 b = _mm256_set1_ps(1.0000001f);
    __m256 a0 = _mm256_set1_ps(1.5f), a1 = _mm256_set1_ps(2.5f), a2 = _mm256_set1_ps(3.5f), a3 = _mm256_set1_ps(4.5f);
    __m256 a4 = _mm256_set1_ps(5.5f), a5 = _mm256_set1_ps(6.5f), a6 = _mm256_set1_ps(7.5f), a7 = _mm256_set1_ps(8.5f);
    for (int i = 0; i < 1024; ++i) {
      a0 = divider_op<kSqrt>(b, a0), a1 = divider_op<kSqrt>(b, a1), a2 = divider_op<kSqrt>(b, a2);
      a3 = divider_op<kSqrt>(b, a3), a4 = divider_op<kSqrt>(b, a4), a5 = divider_op<kSqrt>(b, a5);
      a6 = divider_op<kSqrt>(b, a6), a7 = divider_op<kSqrt>(b, a7);
    }
    sink(_mm256_add_ps(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)),
                       _mm256_add_ps(_mm256_add_ps(a4, a5), _mm256_add_ps(a6, a7))));
  }, 50) / (1024 * 8.0);
}

// e^x for x <= 0 at float accuracy (~1e-7 relative): Cody-Waite in base 2 with the round-to-integer done by a
// shifter, 2^r by a degree-5 polynomial, 2^n by a shift into the exponent field. The cheapest accurate form we
// know on AVX2 (XNNPACK's rr2_p5 is the same count): 8 FMAs, a multiply, a max, a subtract and a shift.
inline __m256 exp_nonpositive(__m256 x) {
  x = _mm256_max_ps(_mm256_set1_ps(-87.0f), x);
  const __m256 shifter = _mm256_set1_ps(12582912.0f + 127.0f);  // 1.5 * 2^23 + the exponent bias
  const __m256 t = _mm256_fmadd_ps(x, _mm256_set1_ps(1.44269502163f), shifter);
  __m256 r = _mm256_fmadd_ps(x, _mm256_set1_ps(1.44269502163f), _mm256_sub_ps(shifter, t));
  r = _mm256_fmadd_ps(x, _mm256_set1_ps(1.92596303e-8f), r);
  __m256 p = _mm256_set1_ps(1.3333558e-3f);
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(9.6181291e-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.5504109e-2f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(2.4022651e-1f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(6.9314718e-1f));
  const __m256 scale = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_castps_si256(t), 23));
  return _mm256_fmadd_ps(_mm256_mul_ps(p, r), scale, scale);
}

// Cycles per 8 floats in L1 (2048 floats): the exp alone (load, exp, store), and softmax's minimum work per element
// on top of it: the row max, x - max, the sum, and the scaling pass.
void exp_cycles(double* exp_only, double* softmax_min) {
  alignas(32) static float x[2048], y[2048];
  for (int i = 0; i < 2048; ++i) x[i] = -0.01f * static_cast<float>(i % 997);
  const double per_vec = 1.0 / (2048 / 8);
  *exp_only = per_vec * cycles_of([] {
    for (int i = 0; i < 2048; i += 16) {
      const __m256 a = exp_nonpositive(_mm256_load_ps(x + i)), b = exp_nonpositive(_mm256_load_ps(x + i + 8));
      _mm256_store_ps(y + i, a);
      _mm256_store_ps(y + i + 8, b);
    }
  }, 200);
  *softmax_min = per_vec * cycles_of([] {
    __m256 m0 = _mm256_set1_ps(-1e30f), m1 = m0;
    for (int i = 0; i < 2048; i += 16) {
      m0 = _mm256_max_ps(m0, _mm256_load_ps(x + i));
      m1 = _mm256_max_ps(m1, _mm256_load_ps(x + i + 8));
    }
    const __m256 m = _mm256_max_ps(m0, m1);  // a row's max as a vector (all lanes equal is not needed here)
    __m256 s0 = _mm256_setzero_ps(), s1 = s0;
    for (int i = 0; i < 2048; i += 16) {
      const __m256 a = exp_nonpositive(_mm256_sub_ps(_mm256_load_ps(x + i), m));
      const __m256 b = exp_nonpositive(_mm256_sub_ps(_mm256_load_ps(x + i + 8), m));
      _mm256_store_ps(y + i, a);
      _mm256_store_ps(y + i + 8, b);
      s0 = _mm256_add_ps(s0, a);
      s1 = _mm256_add_ps(s1, b);
    }
    const __m256 scale = _mm256_div_ps(_mm256_set1_ps(1.0f), _mm256_add_ps(s0, s1));
    for (int i = 0; i < 2048; i += 8) _mm256_store_ps(y + i, _mm256_mul_ps(_mm256_load_ps(y + i), scale));
  }, 200);
}

// ------------------------------------------------------------------ memory: the kernels' access patterns
float* huge_array(std::size_t n) {  // 2 MB aligned, huge pages where the kernel allows, touched once
  void* p = nullptr;
  if (posix_memalign(&p, 2 << 20, n * sizeof(float)) != 0) std::abort();
  madvise(p, n * sizeof(float), MADV_HUGEPAGE);
  std::memset(p, 0, n * sizeof(float));
  return static_cast<float*>(p);
}

// One thread's share [begin, end) of a stream reading kReads arrays and writing kWrites (the sum of the inputs, so
// no load is dead); with kWrites = 0, four sums, so the add latency does not bound the loop.
template <int kReads, int kWrites>
void stream_range(float* const* in, float* const* out, std::size_t begin, std::size_t end) {
  if (kWrites == 0) {
    const float* x = in[0];
    __m256 a = _mm256_setzero_ps(), b = a, c = a, d = a;
    for (std::size_t i = begin; i + 32 <= end; i += 32) {
      a = _mm256_add_ps(a, _mm256_load_ps(x + i));
      b = _mm256_add_ps(b, _mm256_load_ps(x + i + 8));
      c = _mm256_add_ps(c, _mm256_load_ps(x + i + 16));
      d = _mm256_add_ps(d, _mm256_load_ps(x + i + 24));
    }
    sink(_mm256_add_ps(_mm256_add_ps(a, b), _mm256_add_ps(c, d)));
    return;
  }
  const float* src[kReads];
  float* dst[kWrites > 0 ? kWrites : 1];
  for (int r = 0; r < kReads; ++r) src[r] = in[r];
  for (int w = 0; w < kWrites; ++w) dst[w] = out[w];
  for (std::size_t i = begin; i < end; i += 8) {
    __m256 v = _mm256_load_ps(src[0] + i);
    for (int r = 1; r < kReads; ++r) v = _mm256_add_ps(v, _mm256_load_ps(src[r] + i));
    for (int w = 0; w < kWrites; ++w) _mm256_store_ps(dst[w] + i, v);
  }
}

// GB/s (bytes read + bytes written) of kReads arrays of n floats streamed into kWrites, split over `threads` by
// contiguous ranges; in_place: the outputs are the first inputs.
template <int kReads, int kWrites>
double stream_gbs(int threads, std::size_t n, bool in_place) {
  std::vector<float*> in, out;
  for (int i = 0; i < kReads; ++i) in.push_back(huge_array(n));
  for (int i = 0; i < kWrites; ++i) out.push_back(in_place && i < kReads ? in[i] : huge_array(n));
  const double s = median_seconds([&] {
#pragma omp parallel num_threads(threads)
    {
      const std::size_t per = (n / 32 / threads) * 32;
      const std::size_t begin = per * omp_get_thread_num();
      const std::size_t end = omp_get_thread_num() == threads - 1 ? n : begin + per;
      stream_range<kReads, kWrites>(in.data(), out.data(), begin, end);
    }
  }, 15, 20);
  for (int i = 0; i < kReads; ++i) std::free(in[i]);
  for (int i = 0; i < kWrites; ++i)
    if (!(in_place && i < kReads)) std::free(out[i]);
  return static_cast<double>(n) * sizeof(float) * (kReads + kWrites) / s / 1e9;
}

}  // namespace

// The clock the FMA loop runs at, assuming two FMAs per cycle: turns cycles into the bench rows' microseconds.
double fma_clock_hz() {
  std::vector<double> t;
  for (int s = 0; s < 21; ++s) {
    const auto t0 = Clock::now();
    for (int c = 0; c < 20; ++c) fma_loop();
    t.push_back(std::chrono::duration<double>(Clock::now() - t0).count() / 20);
  }
  std::sort(t.begin(), t.end());
  return kFmaLoopCycles / t[t.size() / 2];
}

void print_stream(const char* what, double gbs, double bench_bytes) {
  std::printf("  %-40s %6.1f GB/s  -> %5.0f us for the bench row's %.0f MB\n", what, gbs, bench_bytes / gbs / 1e3,
              bench_bytes / (1 << 20));
}

int main() {
  const double hz = fma_clock_hz();
  const double div = divider_cycles<false>(), sqrt = divider_cycles<true>();
  std::printf("FMA loop clock %.2f GHz (two 8-wide FMAs per cycle); cycles below are that clock's\n", hz / 1e9);
  std::printf("divider: vdivps %.2f, vsqrtps %.2f cycles per 8 floats (throughput). Adam's exact sqrt + division: "
              "%.0f us per 1M parameters on one core at the divider alone\n", div, sqrt,
              (div + sqrt) * (1 << 20) / 8 / hz * 1e6);
  double exp_only, softmax_min;
  exp_cycles(&exp_only, &softmax_min);
  std::printf("accurate exp (degree 5): %.2f cycles per 8 floats in L1; a plain softmax (max, exp, sum, scale): %.2f, "
              "%.0f us for 8192x256 on one core\n", exp_only, softmax_min, softmax_min * (2 << 20) / 8 / hz * 1e6);
  // The bench rows' traffic (python/convlite/bench/rows.py): relu 2M floats, Adam over 1M parameters.
  const std::size_t n8mb = 2u << 20, n4mb = 1u << 20;
  const double mb = 1 << 20;
  const int max_threads = omp_get_max_threads();
  for (int threads = 1; threads <= max_threads; threads *= 2) {
    std::printf("streams, %d thread(s) (GB/s count bytes read + written):\n", threads);
    print_stream("read 8 MB", stream_gbs<1, 0>(threads, n8mb, false), 8 * mb);
    print_stream("copy 8 MB -> 8 MB (relu forward)", stream_gbs<1, 1>(threads, n8mb, false), 16 * mb);
    print_stream("2 x 8 MB -> 8 MB (relu/tanh backward)", stream_gbs<2, 1>(threads, n8mb, false), 24 * mb);
    print_stream("the same, written over an input", stream_gbs<2, 1>(threads, n8mb, true), 24 * mb);
    print_stream("4 x 4 MB -> 3 of them in place (Adam)", stream_gbs<4, 3>(threads, n4mb, true), 28 * mb);
  }
  return 0;
}

// Machine facts for the bench: FMA peak and copy bandwidth (see kernels/peak_kernels.hpp).
#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <vector>

#include "convlite/dispatch.hpp"
#include "convlite/parallel.hpp"
#include "kernels/peak_kernels.hpp"

namespace convlite {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

using FmaLoop = double (*)(std::int64_t, double*);

FmaLoop fma_loop() {
#if defined(CONVLITE_HAVE_AVX2)
  if (isa_available(Isa::avx2)) return &fma_loop_avx2;
#endif
  return &fma_loop_scalar;
}

volatile double g_sink = 0.0;  // keeps the loops' results alive

}  // namespace

const char* fma_peak_kind() { return fma_loop() == &fma_loop_scalar ? "scalar" : "avx2-fma"; }

double measure_fma_peak(double seconds, int threads) {
  const FmaLoop loop = fma_loop();
  threads = std::max(threads, 1);
  // Calibrate on one thread: iterations per chunk of about 10 ms.
  double flops = 0.0;
  std::int64_t chunk = 1 << 16;
  for (;;) {
    const auto t0 = Clock::now();
    g_sink = g_sink + loop(chunk, &flops);
    if (seconds_since(t0) > 0.01 || chunk > (std::int64_t{1} << 40)) break;
    chunk *= 2;
  }
  const std::int64_t chunks = std::max<std::int64_t>(1, static_cast<std::int64_t>(seconds / 0.01));
  std::vector<double> done(static_cast<size_t>(threads), 0.0);
  const auto t0 = Clock::now();
#if defined(CONVLITE_HAVE_OPENMP)
#pragma omp parallel num_threads(threads) if (threads > 1 && !in_forked_child())
#endif
  {
#if defined(CONVLITE_HAVE_OPENMP)
    const int t = omp_get_thread_num();
#else
    const int t = 0;
#endif
    double local = 0.0, f = 0.0, sink = 0.0;
    for (std::int64_t i = 0; i < chunks; ++i) sink += loop(chunk, &f), local += f;
    done[static_cast<size_t>(t)] = local;
    g_sink = g_sink + sink;
  }
  const double elapsed = seconds_since(t0);
  double total = 0.0;
  for (double d : done) total += d;
  return total / elapsed * 1e-9;
}

double measure_copy_bandwidth(std::int64_t nbytes, int repeats, int threads) {
  const std::int64_t n = std::max<std::int64_t>(nbytes / 64, 1) * 64;  // whole cache lines
  std::unique_ptr<char[]> src(new char[static_cast<size_t>(n) + 64]), dst(new char[static_cast<size_t>(n) + 64]);
  char* s = src.get() + (64 - reinterpret_cast<std::uintptr_t>(src.get()) % 64) % 64;
  char* d = dst.get() + (64 - reinterpret_cast<std::uintptr_t>(dst.get()) % 64) % 64;
  const int previous = get_num_threads();
  if (threads > 0) set_num_threads(threads);
  const std::int64_t lines = n / 64;
  const auto copy = [&](char* to, const char* from) {
    // 64 chunks so every thread count splits the same way; a cost high enough to use every thread.
    parallel_for(64, 1e9, [&](std::int64_t c0, std::int64_t c1) {
      const std::int64_t b = lines * c0 / 64 * 64, e = lines * c1 / 64 * 64;
      if (e > b) std::memcpy(to + b, from + b, static_cast<size_t>(e - b));
    });
  };
  parallel_for(64, 1e9, [&](std::int64_t c0, std::int64_t c1) {  // first touch by the threads that copy
    const std::int64_t b = lines * c0 / 64 * 64, e = lines * c1 / 64 * 64;
    std::memset(s + b, 1, static_cast<size_t>(e - b));
    std::memset(d + b, 0, static_cast<size_t>(e - b));
  });
  copy(d, s);  // warm up
  std::vector<double> rates;
  for (int r = 0; r < std::max(repeats, 1); ++r) {
    const auto t0 = Clock::now();
    copy(d, s);
    rates.push_back(2.0 * static_cast<double>(n) / seconds_since(t0) * 1e-9);
  }
  if (threads > 0) set_num_threads(previous);
  std::sort(rates.begin(), rates.end());
  return rates[rates.size() / 2];
}

}  // namespace convlite

#include "convlite/parallel.hpp"

#include <algorithm>
#include <atomic>
#include <stdexcept>
#include <string>

#if defined(__x86_64__) || defined(__i386__)
#include <xmmintrin.h>
#define CONVLITE_X86_MXCSR 1
#endif
#if defined(__unix__) || defined(__APPLE__)
#include <pthread.h>
#define CONVLITE_HAVE_PTHREAD_ATFORK 1
#endif

namespace convlite {
namespace {

// Each extra thread must bring at least this much work (FLOPs or bytes, about 10 us on one core). An idle
// fork/join costs a few microseconds, but on a busy two-core machine one descheduled worker stalls the whole team
// for a scheduler time slice: measured here with the ECG model (about 1 MFLOP per layer call), a lower threshold
// made training 8x slower on two threads than on one under load.
constexpr double kMinWorkPerThread = 1024.0 * 1024.0;

std::atomic<bool> g_forked_child{false};

int initial_thread_count() {
#if defined(CONVLITE_HAVE_OPENMP)
  return std::max(1, omp_get_max_threads());  // honours OMP_NUM_THREADS
#else
  return 1;
#endif
}

std::atomic<int>& thread_count() {
  static std::atomic<int> count{initial_thread_count()};
  return count;
}

#if defined(CONVLITE_HAVE_PTHREAD_ATFORK)
void mark_forked_child() { g_forked_child.store(true); }
[[maybe_unused]] const bool g_atfork_registered = [] {
  pthread_atfork(nullptr, nullptr, &mark_forked_child);
  return true;
}();
#endif

}  // namespace

int get_num_threads() { return in_forked_child() ? 1 : thread_count().load(); }

void set_num_threads(int n) {
  if (n < 1)
    throw std::invalid_argument("The number of threads must be at least 1. Received: n=" + std::to_string(n));
  thread_count().store(n);
#if defined(CONVLITE_HAVE_OPENMP)
  omp_set_num_threads(n);  // so that threadpoolctl and omp_get_max_threads() agree with us
#endif
}

bool in_forked_child() { return g_forked_child.load(std::memory_order_relaxed); }

namespace {
thread_local bool t_serial_scope = false;
}  // namespace

SerialScope::SerialScope() : saved_(t_serial_scope) { t_serial_scope = true; }
SerialScope::~SerialScope() { t_serial_scope = saved_; }

int threads_for_work(std::int64_t items, double cost_per_item) {
#if defined(CONVLITE_HAVE_OPENMP)
  if (t_serial_scope || in_forked_child() || omp_in_parallel()) return 1;
  const int wanted = thread_count().load(std::memory_order_relaxed);
  if (wanted <= 1) return 1;
  const double work = static_cast<double>(items) * std::max(cost_per_item, 1.0);
  const double by_work = work / kMinWorkPerThread;
  int threads = by_work >= wanted ? wanted : static_cast<int>(by_work);
  threads = static_cast<int>(std::min<std::int64_t>(threads, items));
  return std::max(threads, 1);
#else
  (void)items;
  (void)cost_per_item;
  return 1;
#endif
}

const char* openmp_runtime_name() {
#if defined(CONVLITE_HAVE_OPENMP)
#if defined(__clang__)
  return "OpenMP (LLVM libomp)";
#elif defined(__GNUC__)
  return "OpenMP (GNU libgomp)";
#else
  return "OpenMP";
#endif
#else
  return "none (serial build)";
#endif
}

#if defined(CONVLITE_X86_MXCSR)
FlushDenormalsGuard::FlushDenormalsGuard() : saved_(_mm_getcsr()) { _mm_setcsr(saved_ | 0x8040u); }
FlushDenormalsGuard::~FlushDenormalsGuard() { _mm_setcsr(saved_); }
#else
FlushDenormalsGuard::FlushDenormalsGuard() : saved_(0) {}
FlushDenormalsGuard::~FlushDenormalsGuard() {}
#endif

}  // namespace convlite

// Threading: one OpenMP team, static contiguous partitions, serial below a work threshold, never nested.
// Workers run with flush-to-zero / denormals-are-zero (MXCSR is per thread) and restore it afterwards.
// Exceptions never escape the parallel region: the first one is kept and rethrown on the calling thread.
#pragma once
#include <cstdint>
#include <exception>
#include <mutex>

#if defined(CONVLITE_HAVE_OPENMP)
#include <omp.h>
#endif

namespace convlite {

int get_num_threads();
// Throws std::invalid_argument for n < 1.
void set_num_threads(int n);
// True in a child created by fork() after the parent loaded convlite: libgomp's pool does not survive fork,
// so such a child runs every kernel on its calling thread instead of hanging.
bool in_forked_child();
// While alive, every parallel_for started on the calling thread runs serially (per thread, nestable). The compiled
// model uses it for steps too small to share: one fork/join per layer would cost more than the work, and on a busy
// machine each region waits for a descheduled worker.
class SerialScope {
 public:
  SerialScope();
  ~SerialScope();
  SerialScope(const SerialScope&) = delete;
  SerialScope& operator=(const SerialScope&) = delete;

 private:
  bool saved_;
};
// How many threads a loop of `items` items costing `cost_per_item` (about one FLOP or byte each) deserves.
int threads_for_work(std::int64_t items, double cost_per_item);
const char* openmp_runtime_name();

// Sets FTZ/DAZ for the lifetime of the object on x86; a no-op elsewhere.
class FlushDenormalsGuard {
 public:
  FlushDenormalsGuard();
  ~FlushDenormalsGuard();
  FlushDenormalsGuard(const FlushDenormalsGuard&) = delete;
  FlushDenormalsGuard& operator=(const FlushDenormalsGuard&) = delete;

 private:
  unsigned saved_;
};

// body(begin, end) over contiguous chunks of [0, items). Partition t of T is [items*t/T, items*(t+1)/T), so a
// caller that reduces per-chunk partial sums in chunk order gets bit-identical results for any thread count when
// it asks for a fixed number of chunks via `items`.
template <class Body>
void parallel_for(std::int64_t items, double cost_per_item, Body&& body) {
  if (items <= 0) return;
  const int threads = threads_for_work(items, cost_per_item);
  if (threads <= 1) {
    FlushDenormalsGuard guard;
    body(std::int64_t{0}, items);
    return;
  }
#if defined(CONVLITE_HAVE_OPENMP)
  std::exception_ptr first_error;
  std::mutex error_mutex;
#pragma omp parallel num_threads(threads)
  {
    FlushDenormalsGuard guard;
    const std::int64_t t = omp_get_thread_num();
    const std::int64_t team = omp_get_num_threads();
    const std::int64_t begin = items * t / team;
    const std::int64_t end = items * (t + 1) / team;
    try {
      if (begin < end) body(begin, end);
    } catch (...) {
      std::lock_guard<std::mutex> lock(error_mutex);
      if (!first_error) first_error = std::current_exception();
    }
  }
  if (first_error) std::rethrow_exception(first_error);
#else
  FlushDenormalsGuard guard;
  body(std::int64_t{0}, items);
#endif
}

}  // namespace convlite

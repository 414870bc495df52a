// Machine-fact micro-benchmarks used by the bench (issue 8): FMA peak and copy bandwidth.
#include <string>

#include "array_check.hpp"
#include "bindings.hpp"
#include "kernels/peak_kernels.hpp"

namespace convlite::bindings {

void bind_peak(py::module_& m) {
  m.def(
      "measure_fma_peak",
      [](double seconds, int threads) {
        if (!(seconds > 0.0 && seconds <= 60.0))
          throw py::value_error("Argument `seconds` must be in (0, 60]. Received: seconds=" + std::to_string(seconds));
        if (threads < 1 || threads > 1024)
          throw py::value_error("Argument `threads` must be in [1, 1024]. Received: threads=" + std::to_string(threads));
        py::gil_scoped_release release;
        return measure_fma_peak(seconds, threads);
      },
      py::arg("seconds") = 0.2, py::arg("threads") = 1,
      "GFLOP/s of an FMA loop (12 independent AVX2 accumulators; the scalar multiply-add loop without AVX2) "
      "run for about `seconds` on `threads` threads. fma_peak_kind() says which loop ran.");
  m.def("fma_peak_kind", [] { return std::string(fma_peak_kind()); });
  m.def(
      "measure_copy_bandwidth",
      [](std::int64_t nbytes, int repeats, int threads) {
        if (nbytes < 64 || nbytes > (std::int64_t{1} << 34))
          throw py::value_error("Argument `nbytes` must be in [64, 2**34]. Received: nbytes=" + std::to_string(nbytes));
        if (repeats < 1 || repeats > 100000)
          throw py::value_error("Argument `repeats` must be in [1, 100000]. Received: repeats=" +
                                std::to_string(repeats));
        if (threads < 0 || threads > 1024)
          throw py::value_error("Argument `threads` must be in [0, 1024]. Received: threads=" + std::to_string(threads));
        py::gil_scoped_release release;
        return measure_copy_bandwidth(nbytes, repeats, threads);
      },
      py::arg("nbytes"), py::arg("repeats") = 5, py::arg("threads") = 0,
      "Median GB/s of `repeats` memcpy's of `nbytes` between two 64-byte-aligned buffers, counting nbytes read "
      "plus nbytes written per copy (STREAM's Copy convention; write-allocate traffic is not counted). "
      "threads=0 uses convlite's thread count.");
}

}  // namespace convlite::bindings

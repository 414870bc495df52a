#include <pybind11/stl.h>

#include <string>
#include <vector>

#include "bindings.hpp"
#include "convlite/dispatch.hpp"
#include "convlite/parallel.hpp"

namespace convlite::bindings {

namespace py = pybind11;

void bind_config(py::module_& m) {
  m.attr("__version__") = CONVLITE_VERSION;
  m.attr("compiler") = CONVLITE_COMPILER;
  m.attr("build_flags") = CONVLITE_BUILD_FLAGS;
  m.attr("isa_flags") = CONVLITE_ISA_FLAGS;
#if defined(CONVLITE_HAVE_OPENMP)
  m.attr("has_openmp") = true;
#else
  m.attr("has_openmp") = false;
#endif
  m.def("active_isa", [] { return std::string(isa_name(active_isa())); }, "The instruction set kernels use now.");
  m.def("available_isas", [] {
    std::vector<std::string> names;
    for (Isa isa : available_isas()) names.emplace_back(isa_name(isa));
    return names;
  }, "Instruction sets compiled in and supported by this CPU, narrowest first.");
  m.def("isa_tested", [](const std::string& name) { return isa_tested(parse_isa(name)); }, py::arg("name"));
  m.def("set_isa", [](const std::string& name) { set_active_isa(parse_isa(name)); }, py::arg("name"),
        "Switch the kernel tier (tests use this to run every tier in one process).");
  m.def("get_num_threads", &get_num_threads);
  m.def("set_num_threads", &set_num_threads, py::arg("n"));
  m.def("openmp_runtime", [] { return std::string(openmp_runtime_name()); });
  m.def("in_forked_child", &in_forked_child);
}

}  // namespace convlite::bindings

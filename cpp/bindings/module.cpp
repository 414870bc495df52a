// convlite._core: the private extension behind the Python facade. Only binding code lives here: check the
// arrays, allocate outputs while holding the GIL, release it, call the C++ op.
#include <pybind11/pybind11.h>

#include "bindings.hpp"
#include "convlite/dispatch.hpp"

PYBIND11_MODULE(_core, m) {
  m.doc() = "convlite's compiled core (private: use the convlite package)";
  // Chosen once at import: CONVLITE_ISA (validated; an unsupported tier is a clear error) or the best tested tier.
  convlite::init_dispatch_from_environment();
  convlite::bindings::bind_config(m);
  convlite::bindings::bind_activation(m);
  convlite::bindings::bind_train(m);
  convlite::bindings::bind_norm_dropout(m);
  convlite::bindings::bind_pool(m);
  convlite::bindings::bind_shape_ops(m);
  convlite::bindings::bind_conv(m);
  convlite::bindings::bind_separable(m);
  convlite::bindings::bind_peak(m);
  convlite::bindings::bind_model(m);
}

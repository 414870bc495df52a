#include <cmath>
#include <optional>

#include <pybind11/stl.h>

#include "array_check.hpp"
#include "bindings.hpp"
#include "convlite/activation.hpp"

namespace convlite::bindings {

namespace {

ReluParams relu_params(float negative_slope, std::optional<float> max_value, float threshold) {
  ReluParams p;
  p.negative_slope = negative_slope;
  p.threshold = threshold;
  if (max_value) {
    if (std::isnan(*max_value)) throw py::value_error("Argument `max_value` must not be NaN. Received: max_value=nan");
    p.has_max_value = true;
    p.max_value = *max_value;
  }
  return p;
}

std::vector<std::int64_t> shape_of(const py::array& a) { return {a.shape(), a.shape() + a.ndim()}; }

}  // namespace

void bind_activation(py::module_& m) {
  m.def(
      "relu",
      [](py::handle x_obj, float negative_slope, std::optional<float> max_value, float threshold) {
        const FloatArray x = require_float_array(x_obj, "x");
        const ReluParams p = relu_params(negative_slope, max_value, threshold);
        FloatArray y = new_float_array(shape_of(x));
        const float* xp = x.data();
        float* yp = y.mutable_data();
        const std::int64_t n = x.size();
        {
          py::gil_scoped_release release;
          relu_forward(xp, yp, n, p);
        }
        return y;
      },
      py::arg("x"), py::arg("negative_slope") = 0.0f, py::arg("max_value") = py::none(), py::arg("threshold") = 0.0f);
  m.def(
      "relu_backward",
      [](py::handle x_obj, py::handle dy_obj, float negative_slope, std::optional<float> max_value, float threshold) {
        const FloatArray x = require_float_array(x_obj, "x");
        const FloatArray dy = require_float_array(dy_obj, "dy");
        require_shape(dy, "dy", shape_of(x));
        const ReluParams p = relu_params(negative_slope, max_value, threshold);
        FloatArray dx = new_float_array(shape_of(x));
        const float *xp = x.data(), *dyp = dy.data();
        float* dxp = dx.mutable_data();
        const std::int64_t n = x.size();
        {
          py::gil_scoped_release release;
          relu_backward(xp, dyp, dxp, n, p);
        }
        return dx;
      },
      py::arg("x"), py::arg("dy"), py::arg("negative_slope") = 0.0f, py::arg("max_value") = py::none(),
      py::arg("threshold") = 0.0f);
}

}  // namespace convlite::bindings

// Shape-op bindings (ZeroPadding2D, UpSampling2D and their gradients): NHWC float32 arrays, padding and size as
// int tuples. Every shape that could take a kernel outside its arrays is checked here (kernels check nothing).
#include <cstdint>
#include <string>
#include <vector>

#include "array_check.hpp"
#include "bindings.hpp"
#include "convlite/pool.hpp"

namespace convlite::bindings {

namespace {

using Dims = std::vector<std::int64_t>;

FloatArray zero_pad(py::handle x_obj, py::handle padding) {
  const FloatArray x = require_float_array(x_obj, "x", 4);
  const Dims p = int_tuple(padding, "padding", 4, 0);
  const Dims out = {x.shape(0), x.shape(1) + p[0] + p[1], x.shape(2) + p[2] + p[3], x.shape(3)};
  FloatArray y = new_float_array(out);
  if (y.size() == 0) return y;
  const float* xp = x.data();
  float* yp = y.mutable_data();
  {
    py::gil_scoped_release release;
    zero_pad2d_forward(x.shape(0), x.shape(1), x.shape(2), x.shape(3), p[0], p[1], p[2], p[3], xp, yp);
  }
  return y;
}

FloatArray zero_pad_backward(py::handle dy_obj, py::handle padding) {
  const FloatArray dy = require_float_array(dy_obj, "dy", 4);
  const Dims p = int_tuple(padding, "padding", 4, 0);
  const std::int64_t in_h = dy.shape(1) - p[0] - p[1], in_w = dy.shape(2) - p[2] - p[3];
  if (in_h < 0 || in_w < 0)
    throw py::value_error("`padding` is larger than `dy`. Received: dy.shape=" + shape_text(dy) + ", padding=" +
                          repr_text(padding));
  FloatArray dx = new_float_array({dy.shape(0), in_h, in_w, dy.shape(3)});
  if (dy.size() == 0 || dx.size() == 0) return zeroed(dx);
  const float* dyp = dy.data();
  float* dxp = dx.mutable_data();
  {
    py::gil_scoped_release release;
    zero_pad2d_backward(dy.shape(0), in_h, in_w, dy.shape(3), p[0], p[1], p[2], p[3], dyp, dxp);
  }
  return dx;
}

FloatArray upsample(py::handle x_obj, py::handle size) {
  const FloatArray x = require_float_array(x_obj, "x", 4);
  const Dims f = int_tuple(size, "size", 2, 1);
  FloatArray y = new_float_array({x.shape(0), x.shape(1) * f[0], x.shape(2) * f[1], x.shape(3)});
  if (y.size() == 0) return y;
  const float* xp = x.data();
  float* yp = y.mutable_data();
  {
    py::gil_scoped_release release;
    upsample2d_forward(x.shape(0), x.shape(1), x.shape(2), x.shape(3), f[0], f[1], xp, yp);
  }
  return y;
}

FloatArray upsample_backward(py::handle dy_obj, py::handle size) {
  const FloatArray dy = require_float_array(dy_obj, "dy", 4);
  const Dims f = int_tuple(size, "size", 2, 1);
  if (dy.shape(1) % f[0] != 0 || dy.shape(2) % f[1] != 0)
    throw py::value_error("`dy`'s height and width must be multiples of `size`. Received: dy.shape=" +
                          shape_text(dy) + ", size=" + repr_text(size));
  const std::int64_t in_h = dy.shape(1) / f[0], in_w = dy.shape(2) / f[1];
  FloatArray dx = new_float_array({dy.shape(0), in_h, in_w, dy.shape(3)});
  if (dy.size() == 0 || dx.size() == 0) return zeroed(dx);
  const float* dyp = dy.data();
  float* dxp = dx.mutable_data();
  {
    py::gil_scoped_release release;
    upsample2d_backward(dy.shape(0), in_h, in_w, dy.shape(3), f[0], f[1], dyp, dxp);
  }
  return dx;
}

}  // namespace

void bind_shape_ops(py::module_& m) {
  m.def("zero_pad2d", &zero_pad, py::arg("x"), py::arg("padding"), "padding=(top, bottom, left, right)");
  m.def("zero_pad2d_backward", &zero_pad_backward, py::arg("dy"), py::arg("padding"));
  m.def("upsample2d", &upsample, py::arg("x"), py::arg("size"), "Nearest-neighbour upsampling by size=(sh, sw).");
  m.def("upsample2d_backward", &upsample_backward, py::arg("dy"), py::arg("size"));
}

}  // namespace convlite::bindings

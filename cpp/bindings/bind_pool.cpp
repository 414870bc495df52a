// Pooling bindings: NHWC float32 arrays, geometry as int tuples, compact int32 argmax.
// Every shape and index that could take a kernel outside its arrays is checked here (kernels check nothing).
#include <pybind11/stl.h>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "array_check.hpp"
#include "bindings.hpp"
#include "convlite/pool.hpp"

namespace convlite::bindings {

namespace {

using IntArray = py::array_t<std::int32_t, py::array::c_style>;
using Dims = std::vector<std::int64_t>;

std::string dims_text(const Dims& d) {
  std::string s = "(";
  for (size_t i = 0; i < d.size(); ++i) s += std::to_string(d[i]) + (d.size() == 1 ? "," : (i + 1 < d.size() ? ", " : ""));
  return s + ")";
}

IntArray require_int32_array(py::handle obj, const char* name, int ndim) {
  if (!py::isinstance<py::array>(obj))
    throw py::type_error(std::string("Argument `") + name + "` must be a numpy.ndarray of int32. Received: " + name +
                         " of type " + std::string(py::str(py::type::handle_of(obj).attr("__name__"))));
  auto arr = py::reinterpret_borrow<py::array>(obj);
  if (!py::isinstance<py::array_t<std::int32_t>>(obj))  // equivalent dtype, not the same object
    throw py::type_error(std::string("Argument `") + name + "` must have dtype int32. Received: " + name +
                         ".dtype=" + std::string(py::str(arr.dtype())));
  if (arr.ndim() != ndim)
    throw py::value_error(std::string("Argument `") + name + "` must have " + std::to_string(ndim) +
                          " dimensions. Received: " + name + ".shape=" + shape_text(arr));
  if (!(arr.flags() & py::array::c_style))
    throw py::value_error(std::string("Argument `") + name + "` must be C-contiguous. Received: a non-contiguous array");
  return py::reinterpret_borrow<IntArray>(arr);
}

// Fills a Pool2dShape from an NHWC input shape and the geometry, checking every rule the kernels rely on:
// positive sizes, each pad smaller than the pool on its axis (so no window is all padding), at least one output.
Pool2dShape pool_shape(const Dims& in, py::handle pool_obj, py::handle strides_obj, py::handle padding_obj) {
  const Dims pool = int_tuple(pool_obj, "pool", 2, 1);
  const Dims strides = strides_obj.is_none() ? pool : int_tuple(strides_obj, "strides", 2, 1);
  const Dims pad = int_tuple(padding_obj, "padding", 4, 0);
  Pool2dShape s;
  s.batch = in[0], s.in_h = in[1], s.in_w = in[2], s.channels = in[3];
  s.pool_h = pool[0], s.pool_w = pool[1], s.stride_h = strides[0], s.stride_w = strides[1];
  s.pad_top = pad[0], s.pad_bottom = pad[1], s.pad_left = pad[2], s.pad_right = pad[3];
  if (s.in_h < 1 || s.in_w < 1)
    throw py::value_error("Pooling needs at least one row and one column. Received: input shape " + dims_text(in));
  if (s.in_h * s.in_w > std::numeric_limits<std::int32_t>::max())
    throw py::value_error("Pooling indexes pixels with int32: height * width must be < 2**31. Received: input shape " +
                          dims_text(in));
  if (s.pad_top >= s.pool_h || s.pad_bottom >= s.pool_h || s.pad_left >= s.pool_w || s.pad_right >= s.pool_w)
    throw py::value_error("Each pad must be smaller than the pool size on its axis, so that no window is only "
                          "padding. Received: padding=" + repr_text(padding_obj) + ", pool=" + repr_text(pool_obj));
  const std::int64_t span_h = s.in_h + s.pad_top + s.pad_bottom, span_w = s.in_w + s.pad_left + s.pad_right;
  if (span_h < s.pool_h || span_w < s.pool_w)
    throw py::value_error("The pool window is larger than the padded input, so the output would be empty. "
                          "Received: input shape " + dims_text(in) + ", pool=" + repr_text(pool_obj) +
                          ", padding=" + repr_text(padding_obj));
  s.out_h = (span_h - s.pool_h) / s.stride_h + 1;
  s.out_w = (span_w - s.pool_w) / s.stride_w + 1;
  return s;
}

Dims nhwc_input_shape(py::handle obj) {
  const Dims d = int_tuple(obj, "input_shape", 4, 0);
  checked_element_count(d, "input_shape");
  return d;
}

py::object max_pool(py::handle x_obj, py::handle pool, py::handle strides, py::handle padding, bool return_argmax) {
  const FloatArray x = require_float_array(x_obj, "x", 4);
  const Pool2dShape s = pool_shape(shape_of(x), pool, strides, padding);
  const Dims out_shape = {s.batch, s.out_h, s.out_w, s.channels};
  FloatArray y = new_float_array(out_shape);
  IntArray argmax;
  if (return_argmax) argmax = IntArray(std::vector<py::ssize_t>(out_shape.begin(), out_shape.end()));
  if (y.size() == 0) return return_argmax ? py::object(py::make_tuple(y, argmax)) : py::object(y);
  const float* xp = x.data();
  float* yp = y.mutable_data();
  std::int32_t* ap = return_argmax ? argmax.mutable_data() : nullptr;
  {
    py::gil_scoped_release release;
    max_pool2d_forward(s, xp, yp, ap);
  }
  if (return_argmax) return py::make_tuple(y, argmax);
  return std::move(y);
}

// ValueError unless every index lies in [0, limit): an argmax from elsewhere must not write out of bounds.
void require_indices_below(const IntArray& a, std::int64_t limit, const char* name) {
  const std::int32_t* p = a.data();
  const std::int64_t n = a.size();
  std::int64_t bad = -1;
  {
    py::gil_scoped_release release;
    // A branch-free min/max pass (vectorised by the compiler); the offending position is searched only on failure.
    std::int32_t lo = 0, hi = 0;
    for (std::int64_t i = 0; i < n; ++i) {
      lo = p[i] < lo ? p[i] : lo;
      hi = p[i] > hi ? p[i] : hi;
    }
    if (lo < 0 || hi >= limit)
      for (std::int64_t i = 0; i < n && bad < 0; ++i)
        if (p[i] < 0 || p[i] >= limit) bad = i;
  }
  if (bad >= 0)
    throw py::value_error(std::string("Argument `") + name + "` holds a position outside the input (each must be in [0, " +
                          std::to_string(limit) + ")). Received: " + name + ".flat[" + std::to_string(bad) +
                          "]=" + std::to_string(p[bad]));
}

FloatArray max_pool_backward(py::handle argmax_obj, py::handle dy_obj, py::handle input_shape, py::handle pool,
                             py::handle strides, py::handle padding) {
  const FloatArray dy = require_float_array(dy_obj, "dy", 4);
  const IntArray argmax = require_int32_array(argmax_obj, "argmax", 4);
  require_shape(argmax, "argmax", shape_of(dy));
  const Dims in = nhwc_input_shape(input_shape);
  Pool2dShape s;
  if (!pool.is_none()) {
    s = pool_shape(in, pool, strides, padding);
    require_shape(dy, "dy", {s.batch, s.out_h, s.out_w, s.channels});
  } else {
    // Without the geometry: scatter each gradient to its recorded winner (the overlapping-window path).
    if (dy.shape(0) != in[0] || dy.shape(3) != in[3])
      throw py::value_error("`dy` and `input_shape` must agree on batch and channels. Received: dy.shape=" +
                            shape_text(dy) + ", input_shape=" + dims_text(in));
    s.batch = in[0], s.in_h = in[1], s.in_w = in[2], s.channels = in[3];
    s.out_h = dy.shape(1), s.out_w = dy.shape(2);
    s.pool_h = 2, s.stride_h = 1;  // marks the windows as overlapping
  }
  // Disjoint windows compare argmax with each window's cells and never index memory with it: no check needed.
  const bool disjoint_windows = s.stride_h >= s.pool_h && s.stride_w >= s.pool_w;
  if (!disjoint_windows) require_indices_below(argmax, in[1] * in[2], "argmax");
  FloatArray dx = new_float_array(in);
  if (dy.size() == 0 || dx.size() == 0) return zeroed(dx);
  const std::int32_t* ap = argmax.data();
  const float* dyp = dy.data();
  float* dxp = dx.mutable_data();
  {
    py::gil_scoped_release release;
    max_pool2d_backward(s, ap, dyp, dxp);
  }
  return dx;
}

// ---- The model's compact argmax for 2x2 / stride 2 max pooling, exposed (underscored) so tests can reach it.
using CodeArray = py::array_t<std::uint8_t, py::array::c_style>;

Pool2dShape window_code_shape(const Dims& in) {
  const Pool2dShape s = pool_shape(in, py::int_(2), py::none(), py::make_tuple(0, 0, 0, 0));
  if (!max_pool2d_window_code_applies(s))
    throw py::value_error("The window code needs 2x2 windows at stride 2 inside the input. Received: input shape " +
                          dims_text(in));
  return s;
}

py::tuple max_pool_window_code(py::handle x_obj) {
  const FloatArray x = require_float_array(x_obj, "x", 4);
  const Pool2dShape s = window_code_shape(shape_of(x));
  const Dims out_shape = {s.batch, s.out_h, s.out_w, s.channels};
  FloatArray y = new_float_array(out_shape);
  CodeArray code(std::vector<py::ssize_t>(out_shape.begin(), out_shape.end()));
  if (y.size() == 0) return py::make_tuple(y, code);
  const float* xp = x.data();
  float* yp = y.mutable_data();
  std::uint8_t* cp = code.mutable_data();
  {
    py::gil_scoped_release release;
    max_pool2d_forward_code(s, xp, yp, cp);
  }
  return py::make_tuple(y, code);
}

// A code outside 0..3 matches no cell (its window's gradient is dropped): nothing indexes memory with it.
FloatArray max_pool_window_code_backward(py::handle code_obj, py::handle dy_obj, py::handle input_shape) {
  const FloatArray dy = require_float_array(dy_obj, "dy", 4);
  if (!py::isinstance<CodeArray>(code_obj))
    throw py::type_error("Argument `code` must be a numpy.ndarray of uint8. Received: code of type " +
                         std::string(py::str(py::type::handle_of(code_obj).attr("__name__"))));
  const auto code = py::reinterpret_borrow<CodeArray>(code_obj);
  if (!(code.flags() & py::array::c_style))
    throw py::value_error("Argument `code` must be C-contiguous. Received: a non-contiguous array");
  const Dims in = nhwc_input_shape(input_shape);
  const Pool2dShape s = window_code_shape(in);
  const Dims out_shape = {s.batch, s.out_h, s.out_w, s.channels};
  require_shape(dy, "dy", out_shape);
  require_shape(code, "code", out_shape);
  FloatArray dx = new_float_array(in);
  if (dy.size() == 0 || dx.size() == 0) return zeroed(dx);
  const std::uint8_t* cp = code.data();
  const float* dyp = dy.data();
  float* dxp = dx.mutable_data();
  {
    py::gil_scoped_release release;
    max_pool2d_backward_code(s, cp, dyp, dxp);
  }
  return dx;
}

FloatArray avg_pool(py::handle x_obj, py::handle pool, py::handle strides, py::handle padding) {
  const FloatArray x = require_float_array(x_obj, "x", 4);
  const Pool2dShape s = pool_shape(shape_of(x), pool, strides, padding);
  FloatArray y = new_float_array({s.batch, s.out_h, s.out_w, s.channels});
  if (y.size() == 0) return y;
  const float* xp = x.data();
  float* yp = y.mutable_data();
  {
    py::gil_scoped_release release;
    avg_pool2d_forward(s, xp, yp);
  }
  return y;
}

FloatArray avg_pool_backward(py::handle dy_obj, py::handle input_shape, py::handle pool, py::handle strides,
                             py::handle padding) {
  const FloatArray dy = require_float_array(dy_obj, "dy", 4);
  const Dims in = nhwc_input_shape(input_shape);
  const Pool2dShape s = pool_shape(in, pool, strides, padding);
  require_shape(dy, "dy", {s.batch, s.out_h, s.out_w, s.channels});
  FloatArray dx = new_float_array(in);
  if (dy.size() == 0 || dx.size() == 0) return zeroed(dx);
  const float* dyp = dy.data();
  float* dxp = dx.mutable_data();
  {
    py::gil_scoped_release release;
    avg_pool2d_backward(s, dyp, dxp);
  }
  return dx;
}

bool parse_global_kind(const std::string& kind) {
  if (kind == "max") return true;
  if (kind == "avg" || kind == "average") return false;
  throw py::value_error("Argument `kind` must be 'avg' or 'max'. Received: kind='" + kind + "'");
}

py::object global_pool(py::handle x_obj, const std::string& kind, bool return_argmax) {
  const bool is_max = parse_global_kind(kind);
  const FloatArray x = require_float_array(x_obj, "x", 3);
  const std::int64_t batch = x.shape(0), spatial = x.shape(1), channels = x.shape(2);
  if (spatial < 1 || spatial > std::numeric_limits<std::int32_t>::max())
    throw py::value_error("Global pooling needs 1 <= spatial size < 2**31. Received: x.shape=" + shape_text(x));
  if (return_argmax && !is_max)
    throw py::value_error("Only max pooling has an argmax. Received: kind='" + kind + "', return_argmax=True");
  FloatArray y = new_float_array({batch, channels});
  IntArray argmax;
  if (return_argmax) argmax = IntArray(std::vector<py::ssize_t>{static_cast<py::ssize_t>(batch), static_cast<py::ssize_t>(channels)});
  const float* xp = x.data();
  float* yp = y.mutable_data();
  if (y.size() == 0) return return_argmax ? py::object(py::make_tuple(y, argmax)) : py::object(y);
  std::int32_t* ap = return_argmax ? argmax.mutable_data() : nullptr;
  {
    py::gil_scoped_release release;
    if (is_max) global_max_pool_forward(batch, spatial, channels, xp, yp, ap);
    else global_avg_pool_forward(batch, spatial, channels, xp, yp);
  }
  if (return_argmax) return py::make_tuple(y, argmax);
  return std::move(y);
}

FloatArray global_pool_backward(py::handle dy_obj, py::handle input_shape, const std::string& kind,
                                py::handle argmax_obj) {
  const bool is_max = parse_global_kind(kind);
  const FloatArray dy = require_float_array(dy_obj, "dy", 2);
  const Dims in = int_tuple(input_shape, "input_shape", 3, 0);
  checked_element_count(in, "input_shape");
  if (in[1] < 1) throw py::value_error("Global pooling needs a spatial size >= 1. Received: input_shape=" + dims_text(in));
  require_shape(dy, "dy", {in[0], in[2]});
  IntArray argmax;
  if (is_max) {
    if (argmax_obj.is_none())
      throw py::value_error("The backward of global max pooling needs the forward's argmax. Received: argmax=None");
    argmax = require_int32_array(argmax_obj, "argmax", 2);
    require_shape(argmax, "argmax", {in[0], in[2]});
    require_indices_below(argmax, in[1], "argmax");
  }
  FloatArray dx = new_float_array(in);
  if (dy.size() == 0 || dx.size() == 0) return zeroed(dx);
  const float* dyp = dy.data();
  float* dxp = dx.mutable_data();
  const std::int32_t* ap = is_max ? argmax.data() : nullptr;
  {
    py::gil_scoped_release release;
    if (is_max) global_max_pool_backward(in[0], in[1], in[2], ap, dyp, dxp);
    else global_avg_pool_backward(in[0], in[1], in[2], dyp, dxp);
  }
  return dx;
}

}  // namespace

void bind_pool(py::module_& m) {
  m.def("max_pool2d", &max_pool, py::arg("x"), py::arg("pool"), py::arg("strides") = py::none(),
        py::arg("padding") = py::make_tuple(0, 0, 0, 0), py::arg("return_argmax") = false,
        "NHWC max pooling; padding=(top, bottom, left, right) cells are ignored. strides=None means pool. "
        "With return_argmax, also the int32 flat input pixel (h * W + w) of each winner (first one on ties).");
  m.def("max_pool2d_backward", &max_pool_backward, py::arg("argmax"), py::arg("dy"), py::arg("input_shape"),
        py::arg("pool") = py::none(), py::arg("strides") = py::none(), py::arg("padding") = py::make_tuple(0, 0, 0, 0),
        "dx (input_shape) from the forward's argmax. Passing the forward geometry (pool, strides, padding) "
        "enables the faster path for non-overlapping windows.");
  m.def("_max_pool2d_window_code", &max_pool_window_code, py::arg("x"),
        "Internal (the model's training path): 2x2 / stride 2 max pooling returning (y, code), code uint8 = the "
        "winner's place in its window (0..3 row-major; first on ties).");
  m.def("_max_pool2d_window_code_backward", &max_pool_window_code_backward, py::arg("code"), py::arg("dy"),
        py::arg("input_shape"));
  m.def("avg_pool2d", &avg_pool, py::arg("x"), py::arg("pool"), py::arg("strides") = py::none(),
        py::arg("padding") = py::make_tuple(0, 0, 0, 0),
        "NHWC average pooling; padded cells are left out of the divisor (TensorFlow's semantics).");
  m.def("avg_pool2d_backward", &avg_pool_backward, py::arg("dy"), py::arg("input_shape"), py::arg("pool"),
        py::arg("strides") = py::none(), py::arg("padding") = py::make_tuple(0, 0, 0, 0));
  m.def("global_pool", &global_pool, py::arg("x"), py::arg("kind"), py::arg("return_argmax") = false,
        "x (batch, spatial, channels) -> (batch, channels); kind 'avg' or 'max' (argmax: int32 spatial index).");
  m.def("global_pool_backward", &global_pool_backward, py::arg("dy"), py::arg("input_shape"), py::arg("kind"),
        py::arg("argmax") = py::none());
}

}  // namespace convlite::bindings

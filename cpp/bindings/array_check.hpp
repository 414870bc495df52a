// Argument checks shared by every binding. The Python facade casts user data to C-contiguous float32 first;
// these checks catch anything that still reaches _core wrongly, with Keras-style messages that name the argument
// and the received value, so a wrong array is a TypeError/ValueError and never a crash.
#pragma once
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cstdint>
#include <initializer_list>
#include <string>
#include <vector>

namespace convlite::bindings {

namespace py = pybind11;
using FloatArray = py::array_t<float, py::array::c_style>;

std::string shape_text(const py::array& a);

// The array's dimensions, as the op signatures and new_float_array take them.
std::vector<std::int64_t> shape_of(const py::array& a);

// A C-contiguous float32 ndarray with `ndim` dimensions (any ndim when ndim < 0).
// TypeError for a non-array or another dtype; ValueError for a non-contiguous array or wrong ndim.
FloatArray require_float_array(py::handle obj, const char* name, int ndim = -1);

// As above, and writable (for outputs and in-place parameter updates).
FloatArray require_writable_float_array(py::handle obj, const char* name, int ndim = -1);

// ValueError unless `a` has exactly `shape`.
void require_shape(const py::array& a, const char* name, const std::vector<std::int64_t>& shape);

// Product of dims, ValueError on a negative dim or on overflow past what can be allocated.
std::int64_t checked_element_count(const std::vector<std::int64_t>& dims, const char* what);

// A fresh C-contiguous float32 array; allocate before releasing the GIL.
FloatArray new_float_array(const std::vector<std::int64_t>& shape);

// A number as Python prints it (for "Received: name=value").
std::string num(double v);
// Scalar arguments: finite, and inside [lo, hi] (`rule` says so in words, e.g. "in [0, 1)").
void require_finite(double v, const char* name);
void require_range(double v, double lo, double hi, const char* name, const char* rule);

// Python's repr of an argument (for "Received: name=...").
std::string repr_text(py::handle h);
// Geometry arguments: an int or a sequence of `count` ints, each in [minimum, INT32_MAX], named in errors.
std::vector<std::int64_t> int_tuple(py::handle obj, const char* name, size_t count, std::int64_t minimum);
// `a` filled with zeros. Bindings return it for empty work: the kernels would still walk every (empty) row,
// which hangs for huge sizes with zero channels.
FloatArray zeroed(FloatArray a);

}  // namespace convlite::bindings

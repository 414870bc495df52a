#include "array_check.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

namespace convlite::bindings {

std::string shape_text(const py::array& a) {
  std::string s = "(";
  for (py::ssize_t i = 0; i < a.ndim(); ++i) {
    s += std::to_string(a.shape(i));
    if (a.ndim() == 1 || i + 1 < a.ndim()) s += a.ndim() == 1 ? "," : ", ";
  }
  return s + ")";
}

std::vector<std::int64_t> shape_of(const py::array& a) { return {a.shape(), a.shape() + a.ndim()}; }

namespace {

FloatArray check(py::handle obj, const char* name, int ndim, bool writable) {
  if (!py::isinstance<py::array>(obj))
    throw py::type_error(std::string("Argument `") + name + "` must be a numpy.ndarray of float32. Received: " +
                         name + " of type " + std::string(py::str(py::type::handle_of(obj).attr("__name__"))));
  auto arr = py::reinterpret_borrow<py::array>(obj);
  // Equivalent dtypes, not the same dtype object: an unpickled or copied model's float32 arrays carry their own
  // descriptor instance (an identity test refused them as "dtype float32. Received: float32").
  if (!py::isinstance<py::array_t<float>>(obj))
    throw py::type_error(std::string("Argument `") + name + "` must have dtype float32. Received: " + name +
                         ".dtype=" + std::string(py::str(arr.dtype())));
  if (ndim >= 0 && arr.ndim() != ndim)
    throw py::value_error(std::string("Argument `") + name + "` must have " + std::to_string(ndim) +
                          " dimensions. Received: " + name + ".shape=" + shape_text(arr));
  if (!(arr.flags() & py::array::c_style))
    throw py::value_error(std::string("Argument `") + name +
                          "` must be C-contiguous. Received: a non-contiguous array of shape " + shape_text(arr));
  if (writable && !arr.writeable())
    throw py::value_error(std::string("Argument `") + name + "` must be writable. Received: a read-only array");
  return py::reinterpret_borrow<FloatArray>(arr);
}

}  // namespace

FloatArray require_float_array(py::handle obj, const char* name, int ndim) { return check(obj, name, ndim, false); }

FloatArray require_writable_float_array(py::handle obj, const char* name, int ndim) {
  return check(obj, name, ndim, true);
}

void require_shape(const py::array& a, const char* name, const std::vector<std::int64_t>& shape) {
  bool same = a.ndim() == static_cast<py::ssize_t>(shape.size());
  for (size_t i = 0; same && i < shape.size(); ++i) same = a.shape(i) == shape[i];
  if (!same) {
    std::string expected = "(";
    for (size_t i = 0; i < shape.size(); ++i)
      expected += std::to_string(shape[i]) + (shape.size() == 1 ? "," : (i + 1 < shape.size() ? ", " : ""));
    throw py::value_error(std::string("Argument `") + name + "` must have shape " + expected +
                          "). Received: " + name + ".shape=" + shape_text(a));
  }
}

std::int64_t checked_element_count(const std::vector<std::int64_t>& dims, const char* what) {
  // Keep every byte offset representable: elements * sizeof(float) must fit in a signed 64-bit integer.
  constexpr std::int64_t kMax = std::numeric_limits<std::int64_t>::max() / 8;
  std::int64_t count = 1;
  for (std::int64_t d : dims) {
    if (d < 0) throw py::value_error(std::string(what) + " has a negative dimension. Received: " + std::to_string(d));
    if (d != 0 && count > kMax / d)
      throw py::value_error(std::string(what) + " is too large: the product of its dimensions overflows.");
    count *= d;
  }
  return count;
}

FloatArray new_float_array(const std::vector<std::int64_t>& shape) {
  checked_element_count(shape, "The output");
  std::vector<py::ssize_t> dims(shape.begin(), shape.end());
  return FloatArray(dims);
}

std::string num(double v) { return py::str(py::float_(v)); }

void require_finite(double v, const char* name) {
  if (!std::isfinite(v))
    throw py::value_error(std::string("Argument `") + name + "` must be a finite number. Received: " + name + "=" +
                          num(v));
}

void require_range(double v, double lo, double hi, const char* name, const char* rule) {
  if (!(v >= lo && v <= hi))
    throw py::value_error(std::string("Argument `") + name + "` must be " + rule + ". Received: " + name + "=" +
                          num(v));
}

std::string repr_text(py::handle h) { return std::string(py::repr(h)); }

std::vector<std::int64_t> int_tuple(py::handle obj, const char* name, size_t count, std::int64_t minimum) {
  std::vector<std::int64_t> out;
  const auto fail = [&](const std::string& rule) {
    throw py::value_error(std::string("Argument `") + name + "` must be " + rule + ". Received: " + name + "=" +
                          repr_text(obj));
  };
  const std::string rule = "an int or a tuple of " + std::to_string(count) + " ints, each >= " +
                           std::to_string(minimum);
  if (py::isinstance<py::bool_>(obj)) fail(rule);
  if (py::isinstance<py::int_>(obj)) {
    out.assign(count, obj.cast<std::int64_t>());
  } else if (py::isinstance<py::sequence>(obj) && !py::isinstance<py::str>(obj)) {
    const auto seq = py::reinterpret_borrow<py::sequence>(obj);
    if (seq.size() != count) fail(rule);
    for (const auto& item : seq) {
      if (!py::isinstance<py::int_>(item) || py::isinstance<py::bool_>(item)) fail(rule);
      out.push_back(item.cast<std::int64_t>());
    }
  } else {
    fail(rule);
  }
  for (auto v : out)
    if (v < minimum || v > std::numeric_limits<std::int32_t>::max()) fail(rule);
  return out;
}

FloatArray zeroed(FloatArray a) {
  std::fill(a.mutable_data(), a.mutable_data() + a.size(), 0.0f);
  return a;
}

}  // namespace convlite::bindings

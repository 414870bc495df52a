#include <cmath>
#include <optional>
#include <string>

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


struct KindName {
  const char* name;
  ActivationKind kind;
};
constexpr KindName kKinds[] = {
    {"linear", ActivationKind::linear},       {"relu", ActivationKind::relu},
    {"leaky_relu", ActivationKind::leaky_relu}, {"elu", ActivationKind::elu},
    {"selu", ActivationKind::selu},           {"gelu", ActivationKind::gelu},
    {"gelu_tanh", ActivationKind::gelu_tanh}, {"silu", ActivationKind::silu},
    {"swish", ActivationKind::silu},          {"sigmoid", ActivationKind::sigmoid},
    {"hard_sigmoid", ActivationKind::hard_sigmoid}, {"tanh", ActivationKind::tanh},
    {"softplus", ActivationKind::softplus},   {"softsign", ActivationKind::softsign},
    {"exponential", ActivationKind::exponential}, {"relu6", ActivationKind::relu6},
    {"softmax", ActivationKind::softmax},     {"log_softmax", ActivationKind::log_softmax},
};

// Keras names (plus gelu_tanh) -> kernel parameters. alpha=None means the kind's Keras default.
ActivationParams activation_params(const std::string& kind, std::optional<float> alpha, float negative_slope,
                                   std::optional<float> max_value, float threshold, bool approximate) {
  ActivationParams p;
  bool found = false;
  for (const auto& k : kKinds)
    if (kind == k.name) p.kind = k.kind, found = true;
  if (!found) {
    std::string names;
    for (const auto& k : kKinds) names += std::string(names.empty() ? "" : ", ") + "'" + k.name + "'";
    throw py::value_error("Unknown activation kind. Expected one of " + names + ". Received: kind='" + kind + "'");
  }
  if (approximate && p.kind == ActivationKind::gelu) p.kind = ActivationKind::gelu_tanh;
  p.relu = relu_params(negative_slope, max_value, threshold);
  p.alpha = alpha ? *alpha : (p.kind == ActivationKind::elu ? 1.0f : 0.2f);
  if (std::isnan(p.alpha)) throw py::value_error("Argument `alpha` must not be NaN. Received: alpha=nan");
  return p;
}

bool is_softmax(ActivationKind kind) {
  return kind == ActivationKind::softmax || kind == ActivationKind::log_softmax;
}

std::int64_t last_dim_of(const py::array& x, ActivationKind kind) {
  if (!is_softmax(kind)) return 1;
  if (x.ndim() < 1)
    throw py::value_error("softmax and log_softmax act on the last axis: `x` needs at least 1 dimension. "
                          "Received: x.shape=" + shape_text(x));
  return x.shape(x.ndim() - 1);
}

// `out` (numpy style): None allocates the result; otherwise a writable C-contiguous float32 array of the result's
// shape, returned filled. The kernels read element i of every input before writing element i of the output, so out
// may be one of the inputs itself (in place: no output allocation and no third stream through memory), but not a
// view overlapping an input at an offset, whose values would be overwritten before they are read.
FloatArray output_array(py::handle out_obj, const std::vector<std::int64_t>& shape,
                        std::initializer_list<std::pair<const char*, const py::array*>> inputs) {
  if (out_obj.is_none()) return new_float_array(shape);
  FloatArray out = require_writable_float_array(out_obj, "out");
  require_shape(out, "out", shape);
  const char* o0 = reinterpret_cast<const char*>(out.data());
  const char* o1 = o0 + out.nbytes();
  for (const auto& [name, in] : inputs) {
    if (!in || !in->ptr() || in->size() == 0) continue;
    const char* a0 = static_cast<const char*>(in->data());
    const char* a1 = a0 + in->nbytes();
    if (o0 != a0 && o0 < a1 && a0 < o1)
      throw py::value_error(std::string("Argument `out` must be an input itself or share no memory with the inputs. "
                                        "Received: out overlapping `") + name + "` at an offset of " +
                            std::to_string(o0 - a0) + " bytes");
  }
  return out;
}

}  // namespace

void bind_activation(py::module_& m) {
  m.def(
      "relu",
      [](py::handle x_obj, float negative_slope, std::optional<float> max_value, float threshold, py::handle out) {
        const FloatArray x = require_float_array(x_obj, "x");
        const ReluParams p = relu_params(negative_slope, max_value, threshold);
        FloatArray y = output_array(out, shape_of(x), {{"x", &x}});
        const float* xp = x.data();
        float* yp = y.mutable_data();
        const std::int64_t n = x.size();
        {
          py::gil_scoped_release release;
          relu_forward(xp, yp, n, p);
        }
        return y;
      },
      py::arg("x"), py::arg("negative_slope") = 0.0f, py::arg("max_value") = py::none(), py::arg("threshold") = 0.0f,
      py::kw_only(), py::arg("out") = py::none(),
      "Keras relu. out: optional float32 array of x's shape to write (may be x itself); returned.");
  m.def(
      "relu_backward",
      [](py::handle x_obj, py::handle dy_obj, float negative_slope, std::optional<float> max_value, float threshold,
         py::handle out) {
        const FloatArray x = require_float_array(x_obj, "x");
        const FloatArray dy = require_float_array(dy_obj, "dy");
        require_shape(dy, "dy", shape_of(x));
        const ReluParams p = relu_params(negative_slope, max_value, threshold);
        FloatArray dx = output_array(out, shape_of(x), {{"x", &x}, {"dy", &dy}});
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
      py::arg("threshold") = 0.0f, py::kw_only(), py::arg("out") = py::none(),
      "dx = dy * relu'(x). out: optional float32 array of x's shape to write (may be dy itself: in place, as "
      "TensorFlow's ReluGrad forwards its gradient buffer); returned.");
  m.def(
      "activation",
      [](py::handle x_obj, const std::string& kind, std::optional<float> alpha, float negative_slope,
         std::optional<float> max_value, float threshold, bool approximate, py::handle out) {
        const ActivationParams p = activation_params(kind, alpha, negative_slope, max_value, threshold, approximate);
        const FloatArray x = require_float_array(x_obj, "x");
        const std::int64_t last_dim = last_dim_of(x, p.kind);
        FloatArray y = output_array(out, shape_of(x), {{"x", &x}});
        const float* xp = x.data();
        float* yp = y.mutable_data();
        const std::int64_t n = x.size();
        {
          py::gil_scoped_release release;
          activation_forward(p, xp, yp, n, last_dim);
        }
        return y;
      },
      py::arg("x"), py::arg("kind"), py::arg("alpha") = py::none(), py::arg("negative_slope") = 0.0f,
      py::arg("max_value") = py::none(), py::arg("threshold") = 0.0f, py::arg("approximate") = false, py::kw_only(),
      py::arg("out") = py::none(),
      "y = f(x) for a Keras activation name ('gelu' with approximate=True is 'gelu_tanh'); softmax and "
      "log_softmax act on the last axis. alpha: leaky_relu slope (default 0.2) or elu alpha (default 1.0). "
      "out: optional float32 array of x's shape to write (may be x itself); returned.");
  m.def(
      "activation_backward",
      [](py::handle x_obj, py::handle y_obj, py::handle dy_obj, const std::string& kind, std::optional<float> alpha,
         float negative_slope, std::optional<float> max_value, float threshold, bool approximate, py::handle out) {
        const ActivationParams p = activation_params(kind, alpha, negative_slope, max_value, threshold, approximate);
        const FloatArray dy = require_float_array(dy_obj, "dy");
        const auto shape = shape_of(dy);
        const bool needs_x = p.kind == ActivationKind::relu || activation_backward_needs_x(p.kind);
        const bool needs_y = p.kind != ActivationKind::relu && activation_backward_needs_y(p.kind);
        // An array given but not needed is still checked, so a wrong call never passes silently.
        FloatArray x, y;
        if (!x_obj.is_none()) x = require_float_array(x_obj, "x"), require_shape(x, "x", shape);
        if (!y_obj.is_none()) y = require_float_array(y_obj, "y"), require_shape(y, "y", shape);
        if (needs_x && x_obj.is_none())
          throw py::value_error("The backward of '" + kind + "' needs the forward input. Received: x=None");
        if (needs_y && y_obj.is_none())
          throw py::value_error("The backward of '" + kind + "' needs the forward output. Received: y=None");
        const std::int64_t last_dim = last_dim_of(dy, p.kind);
        FloatArray dx = output_array(out, shape, {{"x", &x}, {"y", &y}, {"dy", &dy}});
        const float* xp = needs_x ? x.data() : nullptr;
        const float* yp = needs_y ? y.data() : nullptr;
        const float* dyp = dy.data();
        float* dxp = dx.mutable_data();
        const std::int64_t n = dy.size();
        {
          py::gil_scoped_release release;
          activation_backward(p, xp, yp, dyp, dxp, n, last_dim);
        }
        return dx;
      },
      py::arg("x"), py::arg("y"), py::arg("dy"), py::arg("kind"), py::arg("alpha") = py::none(),
      py::arg("negative_slope") = 0.0f, py::arg("max_value") = py::none(), py::arg("threshold") = 0.0f,
      py::arg("approximate") = false, py::kw_only(), py::arg("out") = py::none(),
      "dx = dy * f'(x). x (forward input) or y (forward output) may be None when the kind does not read it. "
      "out: optional float32 array of dy's shape to write (may be dy, x or y itself); returned.");
}

}  // namespace convlite::bindings

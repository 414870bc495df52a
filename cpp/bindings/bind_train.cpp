// Bindings for the training pieces: losses and optimizer updates (in place).
// In-place updates take writable C-contiguous float32 arrays whose shapes match the parameter exactly.
#include <cmath>
#include <array>
#include <optional>
#include <string>

#include <pybind11/stl.h>

#include "array_check.hpp"
#include "bindings.hpp"
#include "convlite/random.hpp"
#include "convlite/train.hpp"

namespace convlite::bindings {

namespace {



LossKind parse_loss_kind(const std::string& kind) {
  static const std::pair<const char*, LossKind> kKinds[] = {
      {"binary_crossentropy", LossKind::binary_crossentropy},
      {"categorical_crossentropy", LossKind::categorical_crossentropy},
      {"sparse_categorical_crossentropy", LossKind::sparse_categorical_crossentropy},
      {"mse", LossKind::mse},
      {"mae", LossKind::mae},
      {"huber", LossKind::huber}};
  for (const auto& [name, k] : kKinds)
    if (kind == name) return k;
  throw py::value_error(
      "Argument `kind` must be one of 'binary_crossentropy', 'categorical_crossentropy', "
      "'sparse_categorical_crossentropy', 'mse', 'mae', 'huber'. Received: kind='" + kind + "'");
}

// Optional in-place state array: None or a writable float32 array shaped like the parameter.
float* optional_state(py::handle obj, const char* name, const std::vector<std::int64_t>& shape) {
  if (obj.is_none()) return nullptr;
  FloatArray a = require_writable_float_array(obj, name);
  require_shape(a, name, shape);
  return a.mutable_data();
}

float* required_state(py::handle obj, const char* name, const std::vector<std::int64_t>& shape) {
  FloatArray a = require_writable_float_array(obj, name);
  require_shape(a, name, shape);
  return a.mutable_data();
}

py::tuple loss_binding(const std::string& kind_name, py::handle pred_obj, py::handle true_obj, py::handle weight_obj,
                       bool from_logits, double label_smoothing, double delta, bool need_grad) {
  LossParams p;
  p.kind = parse_loss_kind(kind_name);
  p.from_logits = from_logits;
  const bool crossentropy =
      p.kind == LossKind::binary_crossentropy || p.kind == LossKind::categorical_crossentropy;
  require_range(label_smoothing, 0.0, 1.0, "label_smoothing", "in [0, 1]");
  if (label_smoothing != 0.0 && !crossentropy)
    throw py::value_error("Argument `label_smoothing` applies to binary and categorical crossentropy only. "
                          "Received: label_smoothing=" + num(label_smoothing) + " with kind='" + kind_name + "'");
  if (p.kind == LossKind::huber) require_range(delta, 0.0, INFINITY, "delta", "a non-negative number");
  p.label_smoothing = static_cast<float>(label_smoothing);
  p.huber_delta = static_cast<float>(delta);

  const FloatArray pred = require_float_array(pred_obj, "y_pred", 2);
  const std::int64_t batch = pred.shape(0), features = pred.shape(1);
  const FloatArray target = require_float_array(true_obj, "y_true");
  if (p.kind == LossKind::sparse_categorical_crossentropy) {
    if (!(target.ndim() == 2 && target.shape(0) == batch && target.shape(1) == 1))  // (batch, 1) is fine too
      require_shape(target, "y_true", {batch});
    const float* t = target.data();
    for (std::int64_t i = 0; i < batch; ++i)
      if (!(t[i] >= 0.0f && t[i] < static_cast<float>(features) && t[i] == std::floor(t[i])))
        throw py::value_error("Argument `y_true` must hold class indices in [0, " + std::to_string(features) +
                              ") for sparse categorical crossentropy. Received: y_true[" + std::to_string(i) +
                              "]=" + num(t[i]));
  } else {
    require_shape(target, "y_true", shape_of(pred));
  }
  const float* weights = nullptr;
  FloatArray weight_array;
  if (!weight_obj.is_none()) {
    weight_array = require_float_array(weight_obj, "sample_weight");
    require_shape(weight_array, "sample_weight", {batch});
    weights = weight_array.data();
  }
  py::object grad_out = py::none();
  float* gp = nullptr;
  if (need_grad) {
    FloatArray g = new_float_array(shape_of(pred));
    gp = g.mutable_data();
    grad_out = std::move(g);
  }
  const float *pp = pred.data(), *tp = target.data();
  double value;
  {
    py::gil_scoped_release release;
    value = loss_forward_backward(p, batch, features, pp, tp, weights, gp);
  }
  return py::make_tuple(value, grad_out);
}

void bind_losses(py::module_& m) {
  m.def("loss", &loss_binding, py::arg("kind"), py::arg("y_pred"), py::arg("y_true"),
        py::arg("sample_weight") = py::none(), py::arg("from_logits") = false, py::arg("label_smoothing") = 0.0,
        py::arg("delta") = 1.0, py::arg("need_grad") = true,
        "Keras loss (sum_over_batch_size) and, if need_grad, dloss/dy_pred. Returns (loss, grad or None).");
}

// The param array checked and its shape, then the grad checked against it.
struct ParamAndGrad {
  float* p;
  const float* g;
  std::int64_t n;
  std::vector<std::int64_t> shape;
  FloatArray param, grad;  // keep the checked arrays alive
};

ParamAndGrad param_and_grad(py::handle param_obj, py::handle grad_obj) {
  ParamAndGrad r;
  r.param = require_writable_float_array(param_obj, "param");
  r.shape = shape_of(r.param);
  r.grad = require_float_array(grad_obj, "grad");
  require_shape(r.grad, "grad", r.shape);
  r.p = r.param.mutable_data();
  r.g = r.grad.data();
  r.n = r.param.size();
  return r;
}

void require_step(std::int64_t step) {
  if (step < 1) throw py::value_error("Argument `step` is 1-based. Received: step=" + std::to_string(step));
}

// Adagrad, Adadelta, Adamax, Nadam and Lion (Keras 3's formulas; train.hpp says where each constant is rounded).
void bind_more_optimizers(py::module_& m) {
  m.def(
      "adagrad_update",
      [](py::handle param_obj, py::handle grad_obj, py::handle acc_obj, float lr, float epsilon) {
        ParamAndGrad a = param_and_grad(param_obj, grad_obj);
        float* acc = required_state(acc_obj, "accumulator", a.shape);
        py::gil_scoped_release release;
        adagrad_update(a.p, a.g, acc, a.n, lr, epsilon);
      },
      py::arg("param"), py::arg("grad"), py::arg("accumulator"), py::arg("lr"), py::arg("epsilon") = 1e-7f);
  m.def(
      "adadelta_update",
      [](py::handle param_obj, py::handle grad_obj, py::handle ag_obj, py::handle ad_obj, float lr, double rho,
         float epsilon) {
        ParamAndGrad a = param_and_grad(param_obj, grad_obj);
        float* ag = required_state(ag_obj, "accumulated_grad", a.shape);
        float* ad = required_state(ad_obj, "accumulated_delta_var", a.shape);
        py::gil_scoped_release release;
        adadelta_update(a.p, a.g, ag, ad, a.n, lr, rho, epsilon);
      },
      py::arg("param"), py::arg("grad"), py::arg("accumulated_grad"), py::arg("accumulated_delta_var"),
      py::arg("lr"), py::arg("rho") = 0.95, py::arg("epsilon") = 1e-7f);
  m.def(
      "adamax_update",
      [](py::handle param_obj, py::handle grad_obj, py::handle m_obj, py::handle u_obj, float lr, double beta_1,
         double beta_2, float epsilon, std::int64_t step) {
        ParamAndGrad a = param_and_grad(param_obj, grad_obj);
        float* mp = required_state(m_obj, "m", a.shape);
        float* up = required_state(u_obj, "u", a.shape);
        require_step(step);
        py::gil_scoped_release release;
        adamax_update(a.p, a.g, mp, up, a.n, lr, beta_1, beta_2, epsilon, step);
      },
      py::arg("param"), py::arg("grad"), py::arg("m"), py::arg("u"), py::arg("lr"), py::arg("beta_1") = 0.9,
      py::arg("beta_2") = 0.999, py::arg("epsilon") = 1e-7f, py::arg("step"));
  m.def(
      "nadam_next_u_product",
      [](float u_product, double beta_1, std::int64_t step) {
        require_step(step);
        return nadam_next_u_product(u_product, beta_1, step);
      },
      py::arg("u_product"), py::arg("beta_1"), py::arg("step"),
      "Nadam's u_product after Keras advances it for `step` (once per step, before the updates).");
  m.def(
      "nadam_update",
      [](py::handle param_obj, py::handle grad_obj, py::handle m_obj, py::handle v_obj, float lr, double beta_1,
         double beta_2, float epsilon, std::int64_t step, float u_product) {
        ParamAndGrad a = param_and_grad(param_obj, grad_obj);
        float* mp = required_state(m_obj, "m", a.shape);
        float* vp = required_state(v_obj, "v", a.shape);
        require_step(step);
        py::gil_scoped_release release;
        nadam_update(a.p, a.g, mp, vp, a.n, lr, beta_1, beta_2, epsilon, step, u_product);
      },
      py::arg("param"), py::arg("grad"), py::arg("m"), py::arg("v"), py::arg("lr"), py::arg("beta_1") = 0.9,
      py::arg("beta_2") = 0.999, py::arg("epsilon") = 1e-7f, py::arg("step"), py::arg("u_product"));
  m.def(
      "lion_update",
      [](py::handle param_obj, py::handle grad_obj, py::handle m_obj, float lr, double beta_1, double beta_2) {
        ParamAndGrad a = param_and_grad(param_obj, grad_obj);
        float* mp = required_state(m_obj, "m", a.shape);
        py::gil_scoped_release release;
        lion_update(a.p, a.g, mp, a.n, lr, beta_1, beta_2);
      },
      py::arg("param"), py::arg("grad"), py::arg("m"), py::arg("lr"), py::arg("beta_1") = 0.9,
      py::arg("beta_2") = 0.99);
}

void bind_optimizers(py::module_& m) {
  m.def(
      "sgd_update",
      [](py::handle param_obj, py::handle grad_obj, py::handle velocity_obj, float lr, float momentum,
         bool nesterov) {
        FloatArray param = require_writable_float_array(param_obj, "param");
        const auto shape = shape_of(param);
        const FloatArray grad = require_float_array(grad_obj, "grad");
        require_shape(grad, "grad", shape);
        float* vel = optional_state(velocity_obj, "velocity", shape);
        if (!vel && momentum != 0.0f)
          throw py::value_error("SGD with momentum needs a velocity array. Received: velocity=None, momentum=" +
                                num(momentum));
        float* p = param.mutable_data();
        const float* g = grad.data();
        const std::int64_t n = param.size();
        py::gil_scoped_release release;
        sgd_update(p, g, vel, n, lr, momentum, nesterov);
      },
      py::arg("param"), py::arg("grad"), py::arg("velocity"), py::arg("lr"), py::arg("momentum") = 0.0f,
      py::arg("nesterov") = false);
  m.def(
      "adam_update",
      [](py::handle param_obj, py::handle grad_obj, py::handle m_obj, py::handle v_obj, py::handle v_hat_obj,
         float lr, double beta_1, double beta_2, float epsilon, std::int64_t step) {
        FloatArray param = require_writable_float_array(param_obj, "param");
        const auto shape = shape_of(param);
        const FloatArray grad = require_float_array(grad_obj, "grad");
        require_shape(grad, "grad", shape);
        float* mp = required_state(m_obj, "m", shape);
        float* vp = required_state(v_obj, "v", shape);
        float* vh = optional_state(v_hat_obj, "v_hat", shape);
        if (step < 1) throw py::value_error("Argument `step` is 1-based. Received: step=" + std::to_string(step));
        float* p = param.mutable_data();
        const float* g = grad.data();
        const std::int64_t n = param.size();
        py::gil_scoped_release release;
        adam_update(p, g, mp, vp, vh, n, lr, beta_1, beta_2, epsilon, step);
      },
      py::arg("param"), py::arg("grad"), py::arg("m"), py::arg("v"), py::arg("v_hat"), py::arg("lr"),
      py::arg("beta_1") = 0.9, py::arg("beta_2") = 0.999, py::arg("epsilon") = 1e-7f, py::arg("step"));
  m.def(
      "rmsprop_update",
      [](py::handle param_obj, py::handle grad_obj, py::handle velocity_obj, py::handle momentum_obj,
         py::handle average_obj, float lr, double rho, float momentum, float epsilon) {
        FloatArray param = require_writable_float_array(param_obj, "param");
        const auto shape = shape_of(param);
        const FloatArray grad = require_float_array(grad_obj, "grad");
        require_shape(grad, "grad", shape);
        float* vel = required_state(velocity_obj, "velocity", shape);
        float* mom = optional_state(momentum_obj, "momentum_buf", shape);
        float* avg = optional_state(average_obj, "average_grad", shape);
        if (!mom && momentum > 0.0f)
          throw py::value_error("RMSprop with momentum needs a momentum array. Received: momentum_buf=None, "
                                "momentum=" + num(momentum));
        float* p = param.mutable_data();
        const float* g = grad.data();
        const std::int64_t n = param.size();
        py::gil_scoped_release release;
        rmsprop_update(p, g, vel, mom, avg, n, lr, rho, momentum, epsilon);
      },
      py::arg("param"), py::arg("grad"), py::arg("velocity"), py::arg("momentum_buf"), py::arg("average_grad"),
      py::arg("lr"), py::arg("rho") = 0.9, py::arg("momentum") = 0.0f, py::arg("epsilon") = 1e-7f);
  bind_more_optimizers(m);
  m.def(
      "apply_weight_decay",
      [](py::handle param_obj, float lr, float wd) {
        FloatArray param = require_writable_float_array(param_obj, "param");
        float* p = param.mutable_data();
        const std::int64_t n = param.size();
        py::gil_scoped_release release;
        apply_weight_decay(p, n, lr, wd);
      },
      py::arg("param"), py::arg("lr"), py::arg("wd"));
  m.def(
      "sum_of_squares",
      [](py::handle x_obj) {
        const FloatArray x = require_float_array(x_obj, "x");
        const float* p = x.data();
        const std::int64_t n = x.size();
        py::gil_scoped_release release;
        return sum_of_squares(p, n);
      },
      py::arg("x"), "Sum of x*x in double, bit-identical for any thread count and ISA.");
  m.def(
      "scale_in_place",
      [](py::handle x_obj, float factor) {
        FloatArray x = require_writable_float_array(x_obj, "x");
        float* p = x.mutable_data();
        const std::int64_t n = x.size();
        py::gil_scoped_release release;
        scale_in_place(p, n, factor);
      },
      py::arg("x"), py::arg("factor"));
  m.def(
      "clip_in_place",
      [](py::handle x_obj, float low, float high) {
        if (!(low <= high))
          throw py::value_error("Argument `low` must not exceed `high`. Received: low=" + num(low) +
                                ", high=" + num(high));
        FloatArray x = require_writable_float_array(x_obj, "x");
        float* p = x.mutable_data();
        const std::int64_t n = x.size();
        py::gil_scoped_release release;
        clip_in_place(p, n, low, high);
      },
      py::arg("x"), py::arg("low"), py::arg("high"));
}


}  // namespace

void bind_train(py::module_& m) {
  bind_losses(m);
  bind_optimizers(m);
}

}  // namespace convlite::bindings

// Bindings for the training pieces: losses, optimizer updates (in place), batch normalization, dropout.
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


std::string num(double v) {
  std::string s = py::str(py::float_(v));
  return s;
}

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


// Optional per-channel parameter (gamma, beta): None or a float32 (channels,) array.
const float* optional_channel_param(py::handle obj, const char* name, std::int64_t channels, FloatArray& keep) {
  if (obj.is_none()) return nullptr;
  keep = require_float_array(obj, name);
  require_shape(keep, name, {channels});
  return keep.data();
}

std::int64_t channels_last_rows(const FloatArray& x, std::int64_t* channels) {
  if (x.ndim() < 2)
    throw py::value_error("Argument `x` must have a batch axis and a channels axis (ndim >= 2). Received: x.shape=" +
                          shape_text(x));
  *channels = x.shape(x.ndim() - 1);
  return *channels == 0 ? 0 : x.size() / *channels;
}

void bind_batch_norm(py::module_& m) {
  m.def(
      "batch_norm_forward",
      [](py::handle x_obj, py::handle gamma_obj, py::handle beta_obj, py::handle mean_obj, py::handle var_obj,
         double momentum, float epsilon, bool training) {
        const FloatArray x = require_float_array(x_obj, "x");
        std::int64_t channels;
        const std::int64_t rows = channels_last_rows(x, &channels);
        FloatArray gamma_keep, beta_keep;
        const float* gamma = optional_channel_param(gamma_obj, "gamma", channels, gamma_keep);
        const float* beta = optional_channel_param(beta_obj, "beta", channels, beta_keep);
        require_range(epsilon, 0.0, INFINITY, "epsilon", "a non-negative number");
        require_finite(momentum, "momentum");
        FloatArray moving_mean = training ? require_writable_float_array(mean_obj, "moving_mean")
                                          : require_float_array(mean_obj, "moving_mean");
        FloatArray moving_var = training ? require_writable_float_array(var_obj, "moving_var")
                                         : require_float_array(var_obj, "moving_var");
        require_shape(moving_mean, "moving_mean", {channels});
        require_shape(moving_var, "moving_var", {channels});
        FloatArray y = new_float_array(shape_of(x));
        const float* xp = x.data();
        float* yp = y.mutable_data();
        if (!training) {
          const float *mm = moving_mean.data(), *mv = moving_var.data();
          {
            py::gil_scoped_release release;
            batch_norm_forward_inference(rows, channels, xp, gamma, beta, mm, mv, epsilon, yp);
          }
          return py::tuple(py::make_tuple(y, py::none(), py::none()));
        }
        if (rows == 0)
          throw py::value_error("Batch normalization in training needs at least one row to compute statistics. "
                                "Received: x.shape=" + shape_text(x));
        FloatArray saved_mean = new_float_array({channels}), saved_inv_std = new_float_array({channels});
        float *mm = moving_mean.mutable_data(), *mv = moving_var.mutable_data();
        float *sm = saved_mean.mutable_data(), *si = saved_inv_std.mutable_data();
        {
          py::gil_scoped_release release;
          batch_norm_forward_training(rows, channels, xp, gamma, beta, mm, mv, momentum, epsilon, yp, sm, si);
        }
        return py::tuple(py::make_tuple(y, saved_mean, saved_inv_std));
      },
      py::arg("x"), py::arg("gamma"), py::arg("beta"), py::arg("moving_mean"), py::arg("moving_var"),
      py::arg("momentum") = 0.99, py::arg("epsilon") = 1e-3f, py::arg("training") = false,
      "Channels-last batch norm. Returns (y, saved_mean, saved_inv_std); training updates the moving statistics "
      "in place; inference returns (y, None, None).");
  m.def(
      "batch_norm_backward",
      [](py::handle x_obj, py::handle gamma_obj, py::handle mean_obj, py::handle inv_obj, py::handle dy_obj) {
        const FloatArray x = require_float_array(x_obj, "x");
        std::int64_t channels;
        const std::int64_t rows = channels_last_rows(x, &channels);
        FloatArray gamma_keep;
        const float* gamma = optional_channel_param(gamma_obj, "gamma", channels, gamma_keep);
        const FloatArray mean = require_float_array(mean_obj, "saved_mean");
        const FloatArray inv = require_float_array(inv_obj, "saved_inv_std");
        require_shape(mean, "saved_mean", {channels});
        require_shape(inv, "saved_inv_std", {channels});
        const FloatArray dy = require_float_array(dy_obj, "dy");
        require_shape(dy, "dy", shape_of(x));
        FloatArray dx = new_float_array(shape_of(x));
        FloatArray dgamma = new_float_array({channels}), dbeta = new_float_array({channels});
        const float *xp = x.data(), *mp = mean.data(), *ip = inv.data(), *dyp = dy.data();
        float *dxp = dx.mutable_data(), *dgp = dgamma.mutable_data(), *dbp = dbeta.mutable_data();
        {
          py::gil_scoped_release release;
          batch_norm_backward(rows, channels, xp, gamma, mp, ip, dyp, dxp, dgp, dbp);
        }
        return py::make_tuple(dx, dgamma, dbeta);
      },
      py::arg("x"), py::arg("gamma"), py::arg("saved_mean"), py::arg("saved_inv_std"), py::arg("dy"),
      "Training-mode backward (batch statistics depend on x). Returns (dx, dgamma, dbeta).");
  m.def(
      "batch_norm_backward_inference",
      [](py::handle x_obj, py::handle gamma_obj, py::handle mean_obj, py::handle var_obj, py::handle dy_obj,
         float epsilon) {
        const FloatArray x = require_float_array(x_obj, "x");
        std::int64_t channels;
        const std::int64_t rows = channels_last_rows(x, &channels);
        FloatArray gamma_keep;
        const float* gamma = optional_channel_param(gamma_obj, "gamma", channels, gamma_keep);
        const FloatArray mean = require_float_array(mean_obj, "moving_mean");
        const FloatArray var = require_float_array(var_obj, "moving_var");
        require_shape(mean, "moving_mean", {channels});
        require_shape(var, "moving_var", {channels});
        require_range(epsilon, 0.0, INFINITY, "epsilon", "a non-negative number");
        const FloatArray dy = require_float_array(dy_obj, "dy");
        require_shape(dy, "dy", shape_of(x));
        FloatArray dx = new_float_array(shape_of(x));
        FloatArray dgamma = new_float_array({channels}), dbeta = new_float_array({channels});
        const float *xp = x.data(), *mp = mean.data(), *vp = var.data(), *dyp = dy.data();
        float *dxp = dx.mutable_data(), *dgp = dgamma.mutable_data(), *dbp = dbeta.mutable_data();
        {
          py::gil_scoped_release release;
          batch_norm_backward_inference(rows, channels, xp, gamma, mp, vp, epsilon, dyp, dxp, dgp, dbp);
        }
        return py::make_tuple(dx, dgamma, dbeta);
      },
      py::arg("x"), py::arg("gamma"), py::arg("moving_mean"), py::arg("moving_var"), py::arg("dy"),
      py::arg("epsilon") = 1e-3f,
      "Backward with fixed moving statistics (training=False or a frozen layer). Returns (dx, dgamma, dbeta).");
}

using MaskArray = py::array_t<std::uint8_t, py::array::c_style>;

float dropout_rate(double rate) {
  require_range(rate, 0.0, 1.0, "rate", "in [0, 1]");
  return static_cast<float>(rate);
}

MaskArray require_mask(py::handle obj, const std::vector<std::int64_t>& shape) {
  if (!py::isinstance<py::array>(obj) || !py::reinterpret_borrow<py::array>(obj).dtype().is(py::dtype::of<std::uint8_t>()))
    throw py::type_error("Argument `mask` must be the uint8 numpy array returned by the forward call. Received: " +
                         std::string(py::str(py::repr(py::type::handle_of(obj)))));
  auto arr = py::reinterpret_borrow<py::array>(obj);
  if (!(arr.flags() & py::array::c_style))
    throw py::value_error("Argument `mask` must be C-contiguous. Received: a non-contiguous array of shape " +
                          shape_text(arr));
  require_shape(arr, "mask", shape);
  return py::reinterpret_borrow<MaskArray>(arr);
}

// (batch, spatial, channels) view of a channels-last array with ndim >= 2.
void spatial_dims(const py::array& x, std::int64_t* batch, std::int64_t* spatial, std::int64_t* channels) {
  if (x.ndim() < 2)
    throw py::value_error("Spatial dropout needs (batch, ..., channels) input with ndim >= 2. Received: x.shape=" +
                          shape_text(x));
  *batch = x.shape(0);
  *channels = x.shape(x.ndim() - 1);
  *spatial = 1;
  for (py::ssize_t i = 1; i + 1 < x.ndim(); ++i) *spatial *= x.shape(i);
}

void bind_dropout(py::module_& m) {
  m.def(
      "dropout",
      [](py::handle x_obj, double rate_value, std::uint64_t seed, std::uint64_t offset) {
        const float rate = dropout_rate(rate_value);
        const FloatArray x = require_float_array(x_obj, "x");
        FloatArray y = new_float_array(shape_of(x));
        std::vector<py::ssize_t> dims(x.shape(), x.shape() + x.ndim());
        MaskArray mask(dims);
        const float* xp = x.data();
        float* yp = y.mutable_data();
        std::uint8_t* mp = mask.mutable_data();
        const std::int64_t n = x.size();
        {
          py::gil_scoped_release release;
          dropout_forward(n, rate, seed, offset, xp, yp, mp);
        }
        return py::make_tuple(y, mask);
      },
      py::arg("x"), py::arg("rate"), py::arg("seed"), py::arg("offset") = 0,
      "Training-mode dropout: element i is kept iff uniform(seed, offset + i) >= rate, then scaled by "
      "1 / (1 - rate). Returns (y, mask) with mask uint8 (1 kept).");
  m.def(
      "dropout_backward",
      [](py::handle dy_obj, py::handle mask_obj, double rate_value) {
        const float rate = dropout_rate(rate_value);
        const FloatArray dy = require_float_array(dy_obj, "dy");
        const MaskArray mask = require_mask(mask_obj, shape_of(dy));
        FloatArray dx = new_float_array(shape_of(dy));
        const float* dyp = dy.data();
        const std::uint8_t* mp = mask.data();
        float* dxp = dx.mutable_data();
        const std::int64_t n = dy.size();
        {
          py::gil_scoped_release release;
          dropout_backward(n, rate, mp, dyp, dxp);
        }
        return dx;
      },
      py::arg("dy"), py::arg("mask"), py::arg("rate"));
  m.def(
      "spatial_dropout",
      [](py::handle x_obj, double rate_value, std::uint64_t seed, std::uint64_t offset) {
        const float rate = dropout_rate(rate_value);
        const FloatArray x = require_float_array(x_obj, "x");
        std::int64_t batch, spatial, channels;
        spatial_dims(x, &batch, &spatial, &channels);
        FloatArray y = new_float_array(shape_of(x));
        MaskArray mask({static_cast<py::ssize_t>(batch), static_cast<py::ssize_t>(channels)});
        const float* xp = x.data();
        float* yp = y.mutable_data();
        std::uint8_t* mp = mask.mutable_data();
        {
          py::gil_scoped_release release;
          spatial_dropout_forward(batch, spatial, channels, rate, seed, offset, xp, yp, mp);
        }
        return py::make_tuple(y, mask);
      },
      py::arg("x"), py::arg("rate"), py::arg("seed"), py::arg("offset") = 0,
      "SpatialDropout: one draw per (sample, channel), stream element offset + b * channels + c, broadcast over "
      "the spatial axes. Returns (y, mask) with mask uint8 of shape (batch, channels).");
  m.def(
      "spatial_dropout_backward",
      [](py::handle dy_obj, py::handle mask_obj, double rate_value) {
        const float rate = dropout_rate(rate_value);
        const FloatArray dy = require_float_array(dy_obj, "dy");
        std::int64_t batch, spatial, channels;
        spatial_dims(dy, &batch, &spatial, &channels);
        const MaskArray mask = require_mask(mask_obj, {batch, channels});
        FloatArray dx = new_float_array(shape_of(dy));
        const float* dyp = dy.data();
        const std::uint8_t* mp = mask.data();
        float* dxp = dx.mutable_data();
        {
          py::gil_scoped_release release;
          spatial_dropout_backward(batch, spatial, channels, rate, mp, dyp, dxp);
        }
        return dx;
      },
      py::arg("dy"), py::arg("mask"), py::arg("rate"));
  m.def(
      "philox4x32_10",
      [](std::array<std::uint32_t, 4> counter, std::array<std::uint32_t, 2> key) {
        std::array<std::uint32_t, 4> out;
        philox4x32_10(counter.data(), key.data(), out.data());
        return out;
      },
      py::arg("counter"), py::arg("key"), "One Philox4x32-10 block (the reference implementation).");
  m.def(
      "random_uint32",
      [](std::uint64_t seed, std::uint64_t offset, std::int64_t n) {
        if (n < 0) throw py::value_error("Argument `n` must be non-negative. Received: n=" + std::to_string(n));
        py::array_t<std::uint32_t> out(static_cast<py::ssize_t>(n));
        auto* p = out.mutable_data();
        for (std::int64_t i = 0; i < n; ++i) p[i] = random_uint32(seed, offset + static_cast<std::uint64_t>(i));
        return out;
      },
      py::arg("seed"), py::arg("offset"), py::arg("n"), "Words offset .. offset + n - 1 of the stream of `seed`.");
}

}  // namespace

void bind_train(py::module_& m) {
  bind_losses(m);
  bind_optimizers(m);
  bind_batch_norm(m);
  bind_dropout(m);
}

}  // namespace convlite::bindings

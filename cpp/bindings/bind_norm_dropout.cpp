// Bindings for batch normalization (forward, backward, moving statistics) and dropout (Philox masks).
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
  if (!py::isinstance<py::array_t<std::uint8_t>>(obj))
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

void bind_norm_dropout(py::module_& m) {
  bind_batch_norm(m);
  bind_dropout(m);
}

}  // namespace convlite::bindings

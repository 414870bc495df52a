// convlite._core.Model: the compiled model behind convlite.Sequential. Python (models.py) translates each layer
// into add_* calls with resolved geometry and hands over its parameter arrays; this wrapper keeps those arrays
// alive, since the C++ model updates them in place. One call per batch: train_step / test_step; predict loops over
// batches inside C++. All with the GIL released.
#include <cmath>
#include <mutex>
#include <optional>

#include <pybind11/stl.h>

#include "array_check.hpp"
#include "bindings.hpp"
#include "convlite/model.hpp"

namespace convlite::bindings {

namespace {

using IndexArray = py::array_t<std::int64_t, py::array::c_style>;

struct PyModel {
  Model model;
  std::mutex busy;  // the model's buffers are shared: one step or predict at a time (taken without the GIL)
  std::vector<py::object> keep_alive;  // parameter and optimizer-slot arrays the C++ side points into
  std::int64_t label_size = 1;

  float* param(py::handle obj, const char* name) {
    if (obj.is_none()) return nullptr;
    FloatArray a = require_writable_float_array(obj, name);
    keep_alive.push_back(a);
    return a.mutable_data();
  }
};

std::int64_t get(const py::dict& d, const char* key, std::int64_t fallback) {
  return d.contains(key) ? d[key].cast<std::int64_t>() : fallback;
}

// x (n, input_size) checked, out (n, output_size) allocated, and `pass(x, n, out)` run with the GIL released and
// the model locked: predict and model(x, training=True) differ only in the pass.
template <class Pass>
FloatArray run_forward(PyModel& s, py::handle x_obj, Pass pass) {
  const FloatArray x = require_float_array(x_obj, "x", 2);
  if (x.shape(1) != s.model.input_size())
    throw py::value_error("Argument `x` must have " + std::to_string(s.model.input_size()) +
                          " values per sample. Received: x.shape=" + shape_text(x));
  const std::int64_t n = x.shape(0);
  FloatArray out = new_float_array({n, s.model.output_size()});
  const float* xp = x.data();
  float* op = out.mutable_data();
  {
    py::gil_scoped_release release;
    std::lock_guard<std::mutex> lock(s.busy);
    if (n > 0) pass(xp, n, op);
  }
  return out;
}

Conv2dShape conv_shape(const py::dict& g) {
  Conv2dShape s;
  s.in_h = get(g, "in_h", 1), s.in_w = get(g, "in_w", 1), s.in_c = get(g, "in_c", 1);
  s.out_h = get(g, "out_h", 1), s.out_w = get(g, "out_w", 1), s.out_c = get(g, "out_c", 1);
  s.kernel_h = get(g, "kernel_h", 1), s.kernel_w = get(g, "kernel_w", 1);
  s.stride_h = get(g, "stride_h", 1), s.stride_w = get(g, "stride_w", 1);
  s.dilation_h = get(g, "dilation_h", 1), s.dilation_w = get(g, "dilation_w", 1);
  s.pad_top = get(g, "pad_top", 0), s.pad_bottom = get(g, "pad_bottom", 0);
  s.pad_left = get(g, "pad_left", 0), s.pad_right = get(g, "pad_right", 0);
  s.groups = get(g, "groups", 1);
  return s;
}

Pool2dShape pool_shape(const py::dict& g) {
  Pool2dShape s;
  s.in_h = get(g, "in_h", 1), s.in_w = get(g, "in_w", 1), s.channels = get(g, "channels", 1);
  s.out_h = get(g, "out_h", 1), s.out_w = get(g, "out_w", 1);
  s.pool_h = get(g, "pool_h", 1), s.pool_w = get(g, "pool_w", 1);
  s.stride_h = get(g, "stride_h", 1), s.stride_w = get(g, "stride_w", 1);
  s.pad_top = get(g, "pad_top", 0), s.pad_bottom = get(g, "pad_bottom", 0);
  s.pad_left = get(g, "pad_left", 0), s.pad_right = get(g, "pad_right", 0);
  return s;
}

Epilogue epilogue(int kind, float slope) {
  if (kind < 0 || kind > 2) throw py::value_error("Unknown fused activation. Received: " + std::to_string(kind));
  return Epilogue{static_cast<FusedActivation>(kind), slope};
}

// Rows of x/y/sample_weight: checked once per call (cheap) so a bad array is an error, never a crash.
struct BatchArrays {
  FloatArray x, y;
  std::optional<FloatArray> sw;
  IndexArray index;
};

BatchArrays check_batch(PyModel& self, py::handle x_obj, py::handle y_obj, py::handle sw_obj, py::handle index_obj,
                        std::int64_t start, std::int64_t stop) {
  BatchArrays b{require_float_array(x_obj, "x", 2), require_float_array(y_obj, "y", 2), std::nullopt, {}};
  const std::int64_t rows = b.x.shape(0);
  if (b.x.shape(1) != self.model.input_size())
    throw py::value_error("Argument `x` must have " + std::to_string(self.model.input_size()) +
                          " values per sample. Received: x.shape=" + shape_text(b.x));
  if (b.y.shape(0) != rows || b.y.shape(1) != self.label_size)
    throw py::value_error("Argument `y` must have shape (" + std::to_string(rows) + ", " +
                          std::to_string(self.label_size) + "). Received: y.shape=" + shape_text(b.y));
  if (!sw_obj.is_none()) {
    b.sw = require_float_array(sw_obj, "sample_weight", 1);
    if (b.sw->shape(0) != rows)
      throw py::value_error("Argument `sample_weight` must have one value per sample. Received: sample_weight.shape=" +
                            shape_text(*b.sw));
  }
  if (!py::isinstance<IndexArray>(index_obj))
    throw py::type_error("Argument `index` must be an int64 numpy array.");
  b.index = py::reinterpret_borrow<IndexArray>(index_obj);
  if (b.index.ndim() != 1 || !(b.index.flags() & py::array::c_style))
    throw py::value_error("Argument `index` must be a contiguous 1-D array. Received: index.shape=" +
                          shape_text(b.index));
  if (start < 0 || stop <= start || stop > b.index.shape(0))
    throw py::value_error("The batch [start, stop) must be a non-empty part of `index`. Received: start=" +
                          std::to_string(start) + ", stop=" + std::to_string(stop));
  const std::int64_t* idx = b.index.data();
  for (std::int64_t i = start; i < stop; ++i)
    if (idx[i] < 0 || idx[i] >= rows)
      throw py::value_error("Sample index out of range. Received: index=" + std::to_string(idx[i]) +
                            " with " + std::to_string(rows) + " samples");
  return b;
}

float* check_predictions(PyModel& self, py::handle obj, std::int64_t count) {
  if (obj.is_none()) return nullptr;
  FloatArray out = require_writable_float_array(obj, "predictions", 2);
  if (out.shape(0) < count || out.shape(1) != self.model.output_size())
    throw py::value_error("Argument `predictions` is too small. Received: predictions.shape=" + shape_text(out));
  return out.mutable_data();
}

py::tuple result(const StepResult& r) { return py::make_tuple(r.loss, r.correct, r.weight); }

}  // namespace

void bind_model(py::module_& m) {
  py::class_<PyModel>(m, "Model")
      .def(py::init<>())
      .def_property_readonly("input_size", [](PyModel& s) { return s.model.input_size(); })
      .def_property_readonly("output_size", [](PyModel& s) { return s.model.output_size(); })
      .def_property_readonly("num_params", [](PyModel& s) { return s.model.num_params(); })
      .def_property_readonly("num_layers", [](PyModel& s) { return s.model.num_layers(); })
      .def("add_conv2d",
           [](PyModel& s, py::dict geometry, int fused, float slope, py::handle kernel, py::handle bias,
              bool depthwise) {
             const Conv2dShape shape = conv_shape(geometry);
             float* k = s.param(kernel, "kernel");
             float* b = s.param(bias, "bias");
             s.model.add_layer(depthwise ? make_depthwise2d_layer(shape, epilogue(fused, slope), k, b)
                                         : make_conv2d_layer(shape, epilogue(fused, slope), k, b));
           })
      .def("add_separable2d",
           [](PyModel& s, py::dict geometry, std::int64_t depth_multiplier, int fused, float slope,
              py::handle depthwise, py::handle pointwise, py::handle bias) {
             const Conv2dShape shape = conv_shape(geometry);
             float* d = s.param(depthwise, "depthwise_kernel");
             float* p = s.param(pointwise, "pointwise_kernel");
             float* b = s.param(bias, "bias");
             s.model.add_layer(make_separable2d_layer(shape, depth_multiplier, epilogue(fused, slope), d, p, b));
           })
      .def("add_dense",
           [](PyModel& s, std::int64_t rows, std::int64_t in, std::int64_t units, int fused, float slope,
              py::handle kernel, py::handle bias) {
             float* k = s.param(kernel, "kernel");
             float* b = s.param(bias, "bias");
             s.model.add_layer(make_dense_layer(rows, in, units, epilogue(fused, slope), k, b));
           })
      .def("add_activation",
           [](PyModel& s, int kind, std::int64_t size, std::int64_t last_dim, float negative_slope,
              std::optional<float> max_value, float threshold, float alpha) {
             if (kind < 0 || kind > static_cast<int>(ActivationKind::log_softmax))
               throw py::value_error("Unknown activation kind. Received: " + std::to_string(kind));
             ActivationParams p;
             p.kind = static_cast<ActivationKind>(kind);
             p.relu.negative_slope = negative_slope;
             p.relu.threshold = threshold;
             p.relu.has_max_value = max_value.has_value();
             p.relu.max_value = max_value.value_or(0.0f);
             p.alpha = alpha;
             s.model.add_layer(make_activation_layer(p, size, last_dim));
           })
      .def("add_view", [](PyModel& s, std::int64_t size) { s.model.add_layer(make_view_layer(size)); })
      .def("add_pool2d",
           [](PyModel& s, int kind, py::dict geometry) {
             s.model.add_layer(make_pool2d_layer(static_cast<PoolKind>(kind != 0), pool_shape(geometry)));
           })
      .def("add_global_pool",
           [](PyModel& s, int kind, std::int64_t spatial, std::int64_t channels) {
             s.model.add_layer(make_global_pool_layer(static_cast<PoolKind>(kind != 0), spatial, channels));
           })
      .def("add_dropout",
           [](PyModel& s, float rate, std::int64_t size, std::int64_t spatial, std::int64_t channels,
              std::uint64_t salt) { s.model.add_layer(make_dropout_layer(rate, size, spatial, channels, salt)); })
      .def("add_batch_norm",
           [](PyModel& s, std::int64_t spatial, std::int64_t channels, double momentum, float epsilon,
              py::handle gamma, py::handle beta, py::handle moving_mean, py::handle moving_var, bool frozen) {
             float* g = s.param(gamma, "gamma");
             float* b = s.param(beta, "beta");
             float* mm = s.param(moving_mean, "moving_mean");
             float* mv = s.param(moving_var, "moving_variance");
             if (!mm || !mv) throw py::value_error("BatchNormalization needs its moving statistics.");
             s.model.add_layer(make_batch_norm_layer(spatial, channels, momentum, epsilon, g, b, mm, mv, frozen));
           })
      .def("add_rescaling",
           [](PyModel& s, std::int64_t size, std::vector<float> scale, std::vector<float> offset) {
             if (scale.empty() || scale.size() != offset.size() || size % static_cast<std::int64_t>(scale.size()))
               throw py::value_error("Rescaling needs one scale and one offset per channel.");
             s.model.add_layer(make_rescaling_layer(size, std::move(scale), std::move(offset)));
           })
      .def("add_gaussian",
           [](PyModel& s, bool multiplicative, float stddev, std::int64_t size, std::uint64_t salt) {
             s.model.add_layer(make_gaussian_layer(multiplicative, stddev, size, salt));
           })
      .def("add_zero_pad",
           [](PyModel& s, std::int64_t h, std::int64_t w, std::int64_t c, std::int64_t t, std::int64_t b,
              std::int64_t l, std::int64_t r) { s.model.add_layer(make_zero_pad_layer(h, w, c, t, b, l, r)); })
      .def("add_upsample",
           [](PyModel& s, std::int64_t h, std::int64_t w, std::int64_t c, std::int64_t sh, std::int64_t sw) {
             s.model.add_layer(make_upsample_layer(h, w, c, sh, sw));
           })
      .def("set_loss",
           [](PyModel& s, int kind, bool from_logits, float label_smoothing, float huber_delta,
              std::int64_t label_size) {
             if (kind < 0 || kind > static_cast<int>(LossKind::huber))
               throw py::value_error("Unknown loss kind. Received: " + std::to_string(kind));
             LossParams p;
             p.kind = static_cast<LossKind>(kind);
             p.from_logits = from_logits;
             p.label_smoothing = label_smoothing;
             p.huber_delta = huber_delta;
             s.model.set_loss(p, label_size);
             s.label_size = label_size;
           })
      .def("set_loss_weight",
           [](PyModel& s, double weight) {
             if (!std::isfinite(weight))
               throw py::value_error("`loss_weights` must be finite. Received: loss_weights=" + std::to_string(weight));
             s.model.set_loss_weight(static_cast<float>(weight));
           })
      .def("set_accuracy",
           [](PyModel& s, int kind, float threshold) {
             s.model.set_accuracy(static_cast<AccuracyKind>(kind < 0 || kind > 3 ? 0 : kind), threshold);
           })
      .def("set_trainable", [](PyModel& s, std::vector<bool> flags) { s.model.set_trainable(flags); })
      .def("add_activity_regularization",
           [](PyModel& s, float l1, float l2, std::int64_t size) {
             s.model.add_layer(make_activity_regularization_layer(Regularization{l1, l2}, size));
           })
      .def("set_param_regularization",
           [](PyModel& s, std::size_t index, float l1, float l2) {
             if (!(l1 >= 0.0f && l2 >= 0.0f && std::isfinite(l1) && std::isfinite(l2)))
               throw py::value_error("Regularization factors must be finite and non-negative. Received: l1=" +
                                     std::to_string(l1) + ", l2=" + std::to_string(l2));
             s.model.set_param_regularization(index, Regularization{l1, l2});
           })
      .def("set_param_constraint",
           [](PyModel& s, std::size_t index, const std::string& kind, std::vector<std::int64_t> dims,
              std::vector<bool> reduce, float min_value, float max_value, float rate, float one_minus_rate) {
             ConstraintSpec c;
             if (kind == "max_norm") c.kind = ConstraintKind::max_norm;
             else if (kind == "non_neg") c.kind = ConstraintKind::non_neg;
             else if (kind == "unit_norm") c.kind = ConstraintKind::unit_norm;
             else if (kind == "min_max_norm") c.kind = ConstraintKind::min_max_norm;
             else throw py::value_error("Unknown constraint kind. Received: kind=" + kind);
             for (std::int64_t d : dims)
               if (d <= 0) throw py::value_error("Constraint dimensions must be positive.");
             c.dims = std::move(dims), c.reduce = std::move(reduce);
             c.min_value = min_value, c.max_value = max_value, c.rate = rate, c.one_minus_rate = one_minus_rate;
             s.model.set_param_constraint(index, std::move(c));
           })
      .def("set_forward_flops_per_sample",
           [](PyModel& s, double flops) { s.model.set_forward_flops_per_sample(flops); })
      .def("set_seed", [](PyModel& s, std::uint64_t seed) { s.model.set_seed(seed); })
      .def("set_profiling",
           [](PyModel& s, bool on, bool thread_cpu) {
             std::lock_guard<std::mutex> lock(s.busy);
             s.model.set_profiling(on, thread_cpu);
           },
           py::arg("on"), py::arg("thread_cpu") = false)
      .def("profile",
           [](PyModel& s) {
             std::lock_guard<std::mutex> lock(s.busy);
             const StepProfile& p = s.model.profile();
             py::dict d;
             d["forward"] = p.forward;
             d["backward"] = p.backward;
             d["gather"] = p.gather;
             d["loss"] = p.loss;
             d["optimizer"] = p.optimizer;
             d["steps"] = p.steps;
             return d;
           },
           "Seconds per part of the training steps run since set_profiling(True), summed over `steps`.")
      .def("set_optimizer",
           [](PyModel& s, py::dict c, std::vector<std::vector<py::object>> slots) {
             OptimizerConfig o;
             const auto kind = c["kind"].cast<std::string>();
             if (kind == "sgd") o.kind = OptimizerKind::sgd;
             else if (kind == "adam" || kind == "adamw") o.kind = OptimizerKind::adam;
             else if (kind == "rmsprop") o.kind = OptimizerKind::rmsprop;
             else if (kind == "adagrad") o.kind = OptimizerKind::adagrad;
             else if (kind == "adadelta") o.kind = OptimizerKind::adadelta;
             else if (kind == "adamax") o.kind = OptimizerKind::adamax;
             else if (kind == "nadam") o.kind = OptimizerKind::nadam;
             else if (kind == "lion") o.kind = OptimizerKind::lion;
             else throw py::value_error("Unknown optimizer kind. Received: kind=" + kind);
             auto f = [&](const char* key, float fallback) {
               return c.contains(key) && !c[key].is_none() ? c[key].cast<float>() : fallback;
             };
             auto b = [&](const char* key) { return c.contains(key) && c[key].cast<bool>(); };
             o.momentum = f("momentum", 0.0f), o.nesterov = b("nesterov");
             auto d = [&](const char* key, double fallback) {
               return c.contains(key) && !c[key].is_none() ? c[key].cast<double>() : fallback;
             };
             o.beta_1 = d("beta_1", 0.9), o.beta_2 = d("beta_2", 0.999), o.epsilon = f("epsilon", 1e-7f);
             o.amsgrad = b("amsgrad"), o.rho = d("rho", 0.9), o.centered = b("centered");
             o.weight_decay = f("weight_decay", 0.0f);
             o.clipnorm = f("clipnorm", 0.0f), o.clipvalue = f("clipvalue", 0.0f);
             o.global_clipnorm = f("global_clipnorm", 0.0f);
             if (c.contains("decay_mask") && !c["decay_mask"].is_none())
               o.decay_mask = c["decay_mask"].cast<std::vector<bool>>();
             if (!o.decay_mask.empty() && o.decay_mask.size() != slots.size())
               throw py::value_error("`decay_mask` needs one flag per trainable variable.");
             std::vector<std::vector<float*>> ptrs;
             for (auto& per_param : slots) {
               ptrs.emplace_back();
               for (auto& a : per_param) ptrs.back().push_back(s.param(a, "slot"));
             }
             s.model.set_optimizer(o, std::move(ptrs));
           })
      .def("train_step",
           [](PyModel& s, py::handle x, py::handle y, py::handle sw, py::handle index, std::int64_t start,
              std::int64_t stop, float lr, std::int64_t step, std::uint64_t dropout_step, py::handle predictions) {
             BatchArrays b = check_batch(s, x, y, sw, index, start, stop);
             float* pred = check_predictions(s, predictions, stop - start);
             StepResult r;
             {
               py::gil_scoped_release release;
               std::lock_guard<std::mutex> lock(s.busy);
               r = s.model.train_step(b.x.data(), b.y.data(), b.sw ? b.sw->data() : nullptr, b.index.data() + start,
                                      stop - start, lr, step, dropout_step, pred);
             }
             return result(r);
           })
      .def("test_step",
           [](PyModel& s, py::handle x, py::handle y, py::handle sw, py::handle index, std::int64_t start,
              std::int64_t stop, py::handle predictions) {
             BatchArrays b = check_batch(s, x, y, sw, index, start, stop);
             float* pred = check_predictions(s, predictions, stop - start);
             StepResult r;
             {
               py::gil_scoped_release release;
               std::lock_guard<std::mutex> lock(s.busy);
               r = s.model.test_step(b.x.data(), b.y.data(), b.sw ? b.sw->data() : nullptr, b.index.data() + start,
                                     stop - start, pred);
             }
             return result(r);
           })
      .def("forward_training",
           [](PyModel& s, py::handle x_obj, std::uint64_t dropout_step) {
             return run_forward(s, x_obj, [&](const float* x, std::int64_t n, float* out) {
               s.model.forward_training(x, n, dropout_step, out);
             });
           })
      .def("predict", [](PyModel& s, py::handle x_obj, std::int64_t batch_size) {
        if (batch_size <= 0)
          throw py::value_error("Argument `batch_size` must be positive. Received: batch_size=" +
                                std::to_string(batch_size));
        return run_forward(s, x_obj, [&](const float* x, std::int64_t n, float* out) {
          s.model.predict(x, n, batch_size, out);
        });
      })
      // Read-only: what the model's buffers hold now (tests check that predict allocates no training state).
      .def("reserved_bytes", [](PyModel& s) {
        std::lock_guard<std::mutex> lock(s.busy);
        const Model::ReservedBytes r = s.model.reserved_bytes();
        py::dict d;
        d["activations"] = r.activations;
        d["batch_copy"] = r.batch_copy;
        d["training"] = r.training;
        return d;
      });
}

}  // namespace convlite::bindings

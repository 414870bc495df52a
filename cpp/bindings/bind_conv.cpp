// _core.conv2d / conv2d_backward / depthwise2d / depthwise2d_backward / dense / dense_backward / sgemm.
// Every argument is re-checked here (the Python layer checks first): a bad shape or value is a ValueError that
// names what was received, never a crash. Outputs are allocated while holding the GIL, which is then released.
#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>
#include <string>
#include <tuple>

#include <pybind11/stl.h>

#include "array_check.hpp"
#include "bindings.hpp"
#include "conv_args.hpp"
#include "convlite/conv.hpp"
#include "convlite/geometry.hpp"
#include "gemm/gemm_driver.hpp"
#include "ops/conv_winograd.hpp"

namespace convlite::bindings {
namespace {

using Pair = std::tuple<std::int64_t, std::int64_t>;
using Quad = std::tuple<std::int64_t, std::int64_t, std::int64_t, std::int64_t>;

std::string pair_text(const Pair& p) {
  return "(" + std::to_string(std::get<0>(p)) + ", " + std::to_string(std::get<1>(p)) + ")";
}

constexpr std::int64_t kMaxDim = std::int64_t{1} << 40;  // keeps every index product far from int64 overflow

Epilogue parse_epilogue(const std::string& activation, float negative_slope) {
  Epilogue e;
  if (activation == "linear" || activation == "none") {
    e.activation = FusedActivation::none;
  } else if (activation == "relu") {
    e.activation = FusedActivation::relu;
  } else if (activation == "leaky_relu") {
    e.activation = FusedActivation::leaky_relu;
  } else {
    throw py::value_error("Argument `activation` must be one of 'linear', 'relu', 'leaky_relu'. Received: activation='" +
                          activation + "'");
  }
  // The backward mask is read from y (y > 0), which identifies the positive side only for a slope >= 0.
  if (!std::isfinite(negative_slope) || negative_slope < 0.0f)
    throw py::value_error("Argument `negative_slope` must be a finite number >= 0. Received: negative_slope=" +
                          std::to_string(negative_slope));
  e.negative_slope = e.activation == FusedActivation::leaky_relu ? negative_slope : 0.0f;
  return e;
}

void check_dims_small(const py::array& a, const char* name) {
  for (py::ssize_t i = 0; i < a.ndim(); ++i)
    if (a.shape(i) > kMaxDim)
      throw py::value_error(std::string("Argument `") + name + "` is too large: its dimensions overflow. Received: " +
                            name + ".shape=" + shape_text(a));
  checked_element_count({a.shape(), a.shape() + a.ndim()}, name);
}

// The conv geometry from x, the kernel's spatial size and the window arguments, fully validated.
Conv2dShape conv_shape(const py::array& x, std::int64_t kh, std::int64_t kw, std::int64_t out_c, const Pair& strides,
                       const Pair& dilations, const Quad& padding, std::int64_t groups) {
  Conv2dShape s;
  s.batch = x.shape(0), s.in_h = x.shape(1), s.in_w = x.shape(2), s.in_c = x.shape(3);
  s.kernel_h = kh, s.kernel_w = kw, s.out_c = out_c;
  std::tie(s.stride_h, s.stride_w) = strides;
  std::tie(s.dilation_h, s.dilation_w) = dilations;
  std::tie(s.pad_top, s.pad_bottom, s.pad_left, s.pad_right) = padding;
  s.groups = groups;
  if (s.stride_h <= 0 || s.stride_w <= 0 || s.stride_h > kMaxDim || s.stride_w > kMaxDim)
    throw py::value_error("Strides must be positive integers. Received: strides=" + pair_text(strides));
  if (s.dilation_h <= 0 || s.dilation_w <= 0 || s.dilation_h > (1 << 20) || s.dilation_w > (1 << 20))
    throw py::value_error("Dilation rates must be positive integers (at most 2**20). Received: dilations=" +
                          pair_text(dilations));
  if (s.pad_top < 0 || s.pad_bottom < 0 || s.pad_left < 0 || s.pad_right < 0 || s.pad_top > kMaxDim ||
      s.pad_bottom > kMaxDim || s.pad_left > kMaxDim || s.pad_right > kMaxDim)
    throw py::value_error("Padding must be non-negative integers (top, bottom, left, right). Received: padding=(" +
                          std::to_string(s.pad_top) + ", " + std::to_string(s.pad_bottom) + ", " +
                          std::to_string(s.pad_left) + ", " + std::to_string(s.pad_right) + ")");
  if (kh <= 0 || kw <= 0 || kh > (1 << 20) || kw > (1 << 20))
    throw py::value_error("The kernel's spatial size must be positive. Received: kernel size=(" + std::to_string(kh) +
                          ", " + std::to_string(kw) + ")");
  s.out_h = geometry::output_size(s.in_h, kh, s.stride_h, s.dilation_h, s.pad_top, s.pad_bottom);
  s.out_w = geometry::output_size(s.in_w, kw, s.stride_w, s.dilation_w, s.pad_left, s.pad_right);
  if (s.out_h <= 0 || s.out_w <= 0)
    throw py::value_error(
        "The kernel (with dilation) is larger than the padded input: the output would be empty. Received: input "
        "spatial shape=(" + std::to_string(s.in_h) + ", " + std::to_string(s.in_w) + "), kernel size=(" +
        std::to_string(kh) + ", " + std::to_string(kw) + "), dilations=" + pair_text(dilations) + ", padding=(" +
        std::to_string(s.pad_top) + ", " + std::to_string(s.pad_bottom) + ", " + std::to_string(s.pad_left) + ", " +
        std::to_string(s.pad_right) + ")");
  // Every index product the kernels form must fit in int64 (with room for byte offsets).
  const std::int64_t dims[] = {s.batch, s.out_h, s.out_w, std::max<std::int64_t>(s.out_c, 1), kh * kw,
                               std::max<std::int64_t>(s.in_c, 1)};
  std::int64_t product = 1;
  for (std::int64_t d : dims)
    if (__builtin_mul_overflow(product, d, &product) || product > std::numeric_limits<std::int64_t>::max() / 8)
      throw py::value_error("The convolution is too large: the product of its sizes overflows int64. Received: "
                            "output shape=(" + std::to_string(s.batch) + ", " + std::to_string(s.out_h) + ", " +
                            std::to_string(s.out_w) + ", " + std::to_string(s.out_c) + "), kernel size=(" +
                            std::to_string(kh) + ", " + std::to_string(kw) + "), input channels=" +
                            std::to_string(s.in_c));
  return s;
}

FloatArray optional_bias(py::handle obj, std::int64_t n, const char* name) {
  FloatArray b = require_float_array(obj, name, 1);
  require_shape(b, name, {n});
  return b;
}

Conv2dShape conv2d_args(const FloatArray& x, const FloatArray& w, const Pair& strides, const Pair& dilations,
                        const Quad& padding, std::int64_t groups) {
  check_dims_small(x, "x");
  check_dims_small(w, "w");
  if (groups <= 0)
    throw py::value_error("Argument `groups` must be a positive integer. Received: groups=" + std::to_string(groups));
  const std::int64_t c = x.shape(3), f = w.shape(3);
  if (c % groups != 0)
    throw py::value_error("The number of input channels must be divisible by `groups`. Received: input channels=" +
                          std::to_string(c) + ", groups=" + std::to_string(groups));
  if (f % groups != 0)
    throw py::value_error("The number of filters must be divisible by `groups`. Received: filters=" +
                          std::to_string(f) + ", groups=" + std::to_string(groups));
  if (w.shape(2) * groups != c)
    throw py::value_error("The kernel's input-channel axis must equal input channels / groups. Received: "
                          "x.shape=" + shape_text(x) + ", w.shape=" + shape_text(w) +
                          ", groups=" + std::to_string(groups));
  return conv_shape(x, w.shape(0), w.shape(1), f, strides, dilations, padding, groups);
}

Conv2dShape depthwise_args(const FloatArray& x, const FloatArray& w, const Pair& strides, const Pair& dilations,
                           const Quad& padding) {
  check_dims_small(x, "x");
  check_dims_small(w, "w");
  if (w.shape(2) != x.shape(3))
    throw py::value_error("The depthwise kernel's channel axis must equal the input channels. Received: x.shape=" +
                          shape_text(x) + ", w.shape=" + shape_text(w));
  if (w.shape(3) <= 0)
    throw py::value_error("The depth multiplier must be positive. Received: w.shape=" + shape_text(w));
  Conv2dShape s = conv_shape(x, w.shape(0), w.shape(1), x.shape(3) * w.shape(3), strides, dilations, padding, 1);
  s.groups = x.shape(3);
  return s;
}

void check_like(const FloatArray& a, const char* name, const Conv2dShape& s) {
  require_shape(a, name, {s.batch, s.out_h, s.out_w, s.out_c});
}

std::optional<FloatArray> forward_y(py::handle y_obj, const Conv2dShape& s, const Epilogue& e) {
  if (y_obj.is_none()) {
    if (e.activation != FusedActivation::none)
      throw py::value_error("The forward output `y` is required to back-propagate a fused activation. Received: "
                            "y=None with activation set");
    return std::nullopt;
  }
  FloatArray y = require_float_array(y_obj, "y", 4);
  check_like(y, "y", s);
  return y;
}

using Grads = std::tuple<py::object, py::object, py::object>;

template <class Forward>
FloatArray run_forward(const Conv2dShape& s, const FloatArray& x, const FloatArray& w, py::handle bias_obj,
                       const Epilogue& e, Forward forward) {
  std::optional<FloatArray> bias;
  if (!bias_obj.is_none()) bias = optional_bias(bias_obj, s.out_c, "bias");
  FloatArray y = new_float_array({s.batch, s.out_h, s.out_w, s.out_c});
  // Nothing to compute: the kernels would still walk every (empty) output row, which hangs for huge spatial sizes
  // with zero channels (robustness fuzzing found depthwise2d with C=0 and a 2**40 padding never returning).
  if (y.size() == 0) return y;
  const float *xp = x.data(), *wp = w.data(), *bp = bias ? bias->data() : nullptr;
  float* yp = y.mutable_data();
  {
    py::gil_scoped_release release;
    forward(s, xp, wp, bp, yp, e);
  }
  return y;
}

template <class Backward>
Grads run_backward(const Conv2dShape& s, const FloatArray& x, const FloatArray& w, py::handle y_obj,
                   py::handle dy_obj, bool has_bias, bool need_dx, bool need_dw, const Epilogue& e,
                   Backward backward) {
  const FloatArray dy = require_float_array(dy_obj, "dy", 4);
  check_like(dy, "dy", s);
  const std::optional<FloatArray> y = forward_y(y_obj, s, e);
  std::optional<FloatArray> dx, dw, db;
  if (need_dw) dw = new_float_array({w.shape(0), w.shape(1), w.shape(2), w.shape(3)});
  if (need_dx) dx = new_float_array({s.batch, s.in_h, s.in_w, s.in_c});
  if (has_bias) db = new_float_array({s.out_c});
  if (dy.size() == 0) {  // no gradient flows: every output is zero (and the kernels need not walk empty rows)
    for (std::optional<FloatArray>* a : {&dx, &dw, &db})
      if (*a) std::fill((*a)->mutable_data(), (*a)->mutable_data() + (*a)->size(), 0.0f);
    return {dx ? py::object(*dx) : py::none(), dw ? py::object(*dw) : py::none(),
            db ? py::object(*db) : py::none()};
  }
  const float *xp = x.data(), *wp = w.data(), *yp = y ? y->data() : nullptr, *dyp = dy.data();
  float *dxp = dx ? dx->mutable_data() : nullptr, *dwp = dw ? dw->mutable_data() : nullptr,
        *dbp = db ? db->mutable_data() : nullptr;
  {
    py::gil_scoped_release release;
    backward(s, xp, wp, yp, dyp, dxp, dwp, dbp, e);
  }
  return {dx ? py::object(*dx) : py::none(), dw ? py::object(*dw) : py::none(),
          db ? py::object(*db) : py::none()};
}

void check_matrix_pair(const FloatArray& x, const FloatArray& w) {
  check_dims_small(x, "x");
  check_dims_small(w, "w");
  if (x.shape(1) != w.shape(0))
    throw py::value_error("The kernel's first axis must equal the input features. Received: x.shape=" +
                          shape_text(x) + ", w.shape=" + shape_text(w));
}

}  // namespace

// Exported for bind_separable.cpp (conv_args.hpp).
Epilogue conv_epilogue_arg(const std::string& activation, float negative_slope) {
  return parse_epilogue(activation, negative_slope);
}
Conv2dShape conv_depthwise_shape_arg(const FloatArray& x, const FloatArray& w, const ConvPair& strides,
                                     const ConvPair& dilations, const ConvQuad& padding) {
  return depthwise_args(x, w, strides, dilations, padding);
}
FloatArray conv_bias_arg(py::handle obj, std::int64_t n, const char* name) { return optional_bias(obj, n, name); }

void bind_conv(py::module_& m) {
  // Winograd F(2x2, 3x3) for 3x3 stride-1 convs: CONVLITE_CONV_ALGO (validated at import) or the setter.
  winograd::init_algorithm_from_environment();
  m.def("set_conv_algorithm", [](const std::string& name) { winograd::set_algorithm(winograd::parse_algorithm(name)); },
        py::arg("name"),
        "'auto' (Winograd F(2x2,3x3) or F(4x4,3x3) for 3x3 stride-1 convs where it measured faster), 'gemm' "
        "(never), 'winograd' (wherever the shape allows, tile size by cost model), 'winograd2' / 'winograd4' "
        "(Winograd with 2x2 / 4x4 output tiles wherever the shape allows).");
  m.def("get_conv_algorithm", [] { return std::string(winograd::algorithm_name(winograd::algorithm())); });
  m.def(
      "conv2d",
      [](py::handle x_obj, py::handle w_obj, py::handle bias_obj, Pair strides, Pair dilations, Quad padding,
         std::int64_t groups, const std::string& activation, float negative_slope) {
        const FloatArray x = require_float_array(x_obj, "x", 4), w = require_float_array(w_obj, "w", 4);
        const Epilogue e = parse_epilogue(activation, negative_slope);
        const Conv2dShape s = conv2d_args(x, w, strides, dilations, padding, groups);
        return run_forward(s, x, w, bias_obj, e, [](auto&&... a) { conv2d_forward(a...); });
      },
      py::arg("x"), py::arg("w"), py::arg("bias") = py::none(), py::arg("strides") = Pair{1, 1},
      py::arg("dilations") = Pair{1, 1}, py::arg("padding") = Quad{0, 0, 0, 0}, py::arg("groups") = 1,
      py::arg("activation") = "linear", py::arg("negative_slope") = 0.0f,
      "NHWC conv2d (cross-correlation) with HWIO kernel (kh, kw, C_in/groups, F), fused bias + activation.");
  m.def(
      "conv2d_backward",
      [](py::handle x_obj, py::handle w_obj, py::handle y_obj, py::handle dy_obj, Pair strides, Pair dilations,
         Quad padding, std::int64_t groups, bool has_bias, bool need_dx, const std::string& activation,
         float negative_slope, bool need_dw) {
        const FloatArray x = require_float_array(x_obj, "x", 4), w = require_float_array(w_obj, "w", 4);
        const Epilogue e = parse_epilogue(activation, negative_slope);
        const Conv2dShape s = conv2d_args(x, w, strides, dilations, padding, groups);
        return run_backward(s, x, w, y_obj, dy_obj, has_bias, need_dx, need_dw, e,
                            [](auto&&... a) { conv2d_backward(a...); });
      },
      py::arg("x"), py::arg("w"), py::arg("y"), py::arg("dy"), py::arg("strides") = Pair{1, 1},
      py::arg("dilations") = Pair{1, 1}, py::arg("padding") = Quad{0, 0, 0, 0}, py::arg("groups") = 1,
      py::arg("has_bias") = true, py::arg("need_dx") = true, py::arg("activation") = "linear",
      py::arg("negative_slope") = 0.0f, py::arg("need_dw") = true,
      "Returns (dx or None, dw or None, db or None).");
  m.def(
      "depthwise2d",
      [](py::handle x_obj, py::handle w_obj, py::handle bias_obj, Pair strides, Pair dilations, Quad padding,
         const std::string& activation, float negative_slope) {
        const FloatArray x = require_float_array(x_obj, "x", 4), w = require_float_array(w_obj, "w", 4);
        const Epilogue e = parse_epilogue(activation, negative_slope);
        const Conv2dShape s = depthwise_args(x, w, strides, dilations, padding);
        return run_forward(s, x, w, bias_obj, e, [](auto&&... a) { depthwise2d_forward(a...); });
      },
      py::arg("x"), py::arg("w"), py::arg("bias") = py::none(), py::arg("strides") = Pair{1, 1},
      py::arg("dilations") = Pair{1, 1}, py::arg("padding") = Quad{0, 0, 0, 0}, py::arg("activation") = "linear",
      py::arg("negative_slope") = 0.0f,
      "NHWC depthwise conv with kernel (kh, kw, C, dm); output channel c*dm + m uses w[..., c, m].");
  m.def(
      "depthwise2d_backward",
      [](py::handle x_obj, py::handle w_obj, py::handle y_obj, py::handle dy_obj, Pair strides, Pair dilations,
         Quad padding, bool has_bias, bool need_dx, const std::string& activation, float negative_slope,
         bool need_dw) {
        const FloatArray x = require_float_array(x_obj, "x", 4), w = require_float_array(w_obj, "w", 4);
        const Epilogue e = parse_epilogue(activation, negative_slope);
        const Conv2dShape s = depthwise_args(x, w, strides, dilations, padding);
        return run_backward(s, x, w, y_obj, dy_obj, has_bias, need_dx, need_dw, e,
                            [](auto&&... a) { depthwise2d_backward(a...); });
      },
      py::arg("x"), py::arg("w"), py::arg("y"), py::arg("dy"), py::arg("strides") = Pair{1, 1},
      py::arg("dilations") = Pair{1, 1}, py::arg("padding") = Quad{0, 0, 0, 0}, py::arg("has_bias") = true,
      py::arg("need_dx") = true, py::arg("activation") = "linear", py::arg("negative_slope") = 0.0f,
      py::arg("need_dw") = true, "Returns (dx or None, dw or None, db or None).");
  m.def(
      "dense",
      [](py::handle x_obj, py::handle w_obj, py::handle bias_obj, const std::string& activation,
         float negative_slope) {
        const FloatArray x = require_float_array(x_obj, "x", 2), w = require_float_array(w_obj, "w", 2);
        check_matrix_pair(x, w);
        const Epilogue e = parse_epilogue(activation, negative_slope);
        const std::int64_t batch = x.shape(0), in = x.shape(1), units = w.shape(1);
        std::optional<FloatArray> bias;
        if (!bias_obj.is_none()) bias = optional_bias(bias_obj, units, "bias");
        FloatArray y = new_float_array({batch, units});
        const float *xp = x.data(), *wp = w.data(), *bp = bias ? bias->data() : nullptr;
        float* yp = y.mutable_data();
        {
          py::gil_scoped_release release;
          dense_forward(batch, in, units, xp, wp, bp, yp, e);
        }
        return y;
      },
      py::arg("x"), py::arg("w"), py::arg("bias") = py::none(), py::arg("activation") = "linear",
      py::arg("negative_slope") = 0.0f, "y = act(x @ w + bias), x (batch, in), w (in, units).");
  m.def(
      "dense_backward",
      [](py::handle x_obj, py::handle w_obj, py::handle y_obj, py::handle dy_obj, bool has_bias, bool need_dx,
         const std::string& activation, float negative_slope, bool need_dw) {
        const FloatArray x = require_float_array(x_obj, "x", 2), w = require_float_array(w_obj, "w", 2);
        check_matrix_pair(x, w);
        const Epilogue e = parse_epilogue(activation, negative_slope);
        const std::int64_t batch = x.shape(0), in = x.shape(1), units = w.shape(1);
        const FloatArray dy = require_float_array(dy_obj, "dy", 2);
        require_shape(dy, "dy", {batch, units});
        std::optional<FloatArray> y;
        if (!y_obj.is_none()) {
          y = require_float_array(y_obj, "y", 2);
          require_shape(*y, "y", {batch, units});
        } else if (e.activation != FusedActivation::none) {
          throw py::value_error("The forward output `y` is required to back-propagate a fused activation. "
                                "Received: y=None with activation set");
        }
        std::optional<FloatArray> dx, dw, db;
        if (need_dw) dw = new_float_array({in, units});
        if (need_dx) dx = new_float_array({batch, in});
        if (has_bias) db = new_float_array({units});
        const float *xp = x.data(), *wp = w.data(), *yp = y ? y->data() : nullptr, *dyp = dy.data();
        float *dxp = dx ? dx->mutable_data() : nullptr, *dwp = dw ? dw->mutable_data() : nullptr,
              *dbp = db ? db->mutable_data() : nullptr;
        {
          py::gil_scoped_release release;
          dense_backward(batch, in, units, xp, wp, yp, dyp, dxp, dwp, dbp, e);
        }
        return Grads{dx ? py::object(*dx) : py::none(), dw ? py::object(*dw) : py::none(),
                     db ? py::object(*db) : py::none()};
      },
      py::arg("x"), py::arg("w"), py::arg("y"), py::arg("dy"), py::arg("has_bias") = true,
      py::arg("need_dx") = true, py::arg("activation") = "linear", py::arg("negative_slope") = 0.0f,
      py::arg("need_dw") = true, "Returns (dx or None, dw or None, db or None).");
  m.def(
      "sgemm",
      [](py::handle a_obj, py::handle b_obj, bool transpose_a, bool transpose_b, py::handle c_obj, float beta) {
        const FloatArray a = require_float_array(a_obj, "a", 2), b = require_float_array(b_obj, "b", 2);
        check_dims_small(a, "a");
        check_dims_small(b, "b");
        const std::int64_t m = transpose_a ? a.shape(1) : a.shape(0), k = transpose_a ? a.shape(0) : a.shape(1);
        const std::int64_t kb = transpose_b ? b.shape(1) : b.shape(0), n = transpose_b ? b.shape(0) : b.shape(1);
        if (k != kb)
          throw py::value_error("The inner dimensions of op(a) and op(b) must match. Received: a.shape=" +
                                shape_text(a) + ", b.shape=" + shape_text(b) + ", transpose_a=" +
                                (transpose_a ? "True" : "False") + ", transpose_b=" + (transpose_b ? "True" : "False"));
        FloatArray c = new_float_array({m, n});
        if (!std::isfinite(beta))
          throw py::value_error("Argument `beta` must be finite. Received: beta=" + std::to_string(beta));
        if (c_obj.is_none()) {
          beta = 0.0f;
        } else {
          const FloatArray c0 = require_float_array(c_obj, "c", 2);
          require_shape(c0, "c", {m, n});
          std::copy(c0.data(), c0.data() + m * n, c.mutable_data());
        }
        const float *ap = a.data(), *bp = b.data();
        float* cp = c.mutable_data();
        const std::int64_t lda = a.shape(1), ldb = b.shape(1);
        {
          py::gil_scoped_release release;
          sgemm(transpose_a, transpose_b, m, n, k, ap, lda, bp, ldb, beta, cp, n);
        }
        return c;
      },
      py::arg("a"), py::arg("b"), py::arg("transpose_a") = false, py::arg("transpose_b") = false,
      py::arg("c") = py::none(), py::arg("beta") = 0.0f,
      "op(a) @ op(b) (+ beta * c when c is given; c itself is not modified) in float32 with the packed, "
      "cache-blocked SGEMM.");
  m.def(
      "fma_peak_flops",
      [](std::int64_t iterations) {
        if (iterations < 1)
          throw py::value_error("`iterations` must be positive. Received: iterations=" + std::to_string(iterations));
        py::gil_scoped_release release;
        return gemm::kernels().fma_peak(iterations);
      },
      py::arg("iterations"),
      "FLOPs of a latency-hidden FMA loop on the active ISA, run on the calling thread: divide by the time taken "
      "for the measured peak of one core (benchmarks only).");
}

}  // namespace convlite::bindings

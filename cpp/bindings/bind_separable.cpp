// _core.separable_conv2d / separable_conv2d_backward: depthwise then pointwise 1x1, fused per tile (see
// ops/conv_separable.cpp). The window arguments are checked by the same code as depthwise2d (conv_args.hpp); the
// pointwise kernel may be given as Keras stores it, (1, 1, C*dm, F), or as the matrix (C*dm, F).
#include <algorithm>
#include <limits>
#include <optional>
#include <string>

#include <pybind11/stl.h>

#include "array_check.hpp"
#include "bindings.hpp"
#include "conv_args.hpp"
#include "convlite/conv.hpp"

namespace convlite::bindings {
namespace {

struct SeparableArgs {
  Conv2dShape shape;  // the depthwise window; out_c = filters
  std::int64_t depth_multiplier = 1, mid_c = 0;
};

SeparableArgs separable_args(const FloatArray& x, const FloatArray& dw, const FloatArray& pw, const ConvPair& strides,
                             const ConvPair& dilations, const ConvQuad& padding) {
  SeparableArgs a;
  a.shape = conv_depthwise_shape_arg(x, dw, strides, dilations, padding);  // out_c = C * dm, validated
  a.depth_multiplier = dw.shape(3);
  a.mid_c = a.shape.out_c;
  const bool matrix = pw.ndim() == 2, keras = pw.ndim() == 4 && pw.shape(0) == 1 && pw.shape(1) == 1;
  if (!matrix && !keras)
    throw py::value_error("The pointwise kernel must be (C*depth_multiplier, filters) or (1, 1, C*depth_multiplier, "
                          "filters). Received: pointwise_w.shape=" + shape_text(pw));
  const std::int64_t rows = pw.shape(pw.ndim() - 2), filters = pw.shape(pw.ndim() - 1);
  if (rows != a.mid_c)
    throw py::value_error("The pointwise kernel's input channels must equal C*depth_multiplier (" +
                          std::to_string(a.mid_c) + "). Received: x.shape=" + shape_text(x) + ", depthwise_w.shape=" +
                          shape_text(dw) + ", pointwise_w.shape=" + shape_text(pw));
  if (filters > (std::int64_t{1} << 40))
    throw py::value_error("The pointwise kernel is too large. Received: pointwise_w.shape=" + shape_text(pw));
  std::int64_t product = 1;
  for (std::int64_t d : {a.shape.batch, a.shape.out_h, a.shape.out_w, std::max<std::int64_t>(filters, 1)})
    if (__builtin_mul_overflow(product, d, &product) || product > std::numeric_limits<std::int64_t>::max() / 8)
      throw py::value_error("The output is too large: the product of its sizes overflows int64. Received: filters=" +
                            std::to_string(filters) + ", x.shape=" + shape_text(x));
  a.shape.out_c = filters;
  return a;
}

FloatArray like(py::handle obj, const char* name, std::int64_t n, std::int64_t h, std::int64_t w, std::int64_t c) {
  FloatArray arr = require_float_array(obj, name, 4);
  require_shape(arr, name, {n, h, w, c});
  return arr;
}

}  // namespace

void bind_separable(py::module_& m) {
  m.def(
      "separable_conv2d",
      [](py::handle x_obj, py::handle dw_obj, py::handle pw_obj, py::handle bias_obj, ConvPair strides,
         ConvPair dilations, ConvQuad padding, const std::string& activation, float negative_slope,
         bool return_mid) -> py::object {
        const FloatArray x = require_float_array(x_obj, "x", 4), dw = require_float_array(dw_obj, "depthwise_w", 4);
        const FloatArray pw = require_float_array(pw_obj, "pointwise_w");
        const Epilogue e = conv_epilogue_arg(activation, negative_slope);
        const SeparableArgs a = separable_args(x, dw, pw, strides, dilations, padding);
        const Conv2dShape& s = a.shape;
        std::optional<FloatArray> bias;
        if (!bias_obj.is_none()) bias = conv_bias_arg(bias_obj, s.out_c, "bias");
        FloatArray y = new_float_array({s.batch, s.out_h, s.out_w, s.out_c});
        std::optional<FloatArray> mid;
        if (return_mid) mid = new_float_array({s.batch, s.out_h, s.out_w, a.mid_c});
        if (y.size() > 0 || (mid && mid->size() > 0)) {
          const float *xp = x.data(), *dwp = dw.data(), *pwp = pw.data(), *bp = bias ? bias->data() : nullptr;
          float *yp = y.mutable_data(), *mp = mid ? mid->mutable_data() : nullptr;
          py::gil_scoped_release release;
          if (y.size() > 0) {
            separable_conv2d_forward(s, a.depth_multiplier, xp, dwp, pwp, bp, yp, e, mp);
          } else if (mp) {  // no filters: the intermediate alone
            Conv2dShape d = s;
            d.out_c = a.mid_c;
            d.groups = std::max<std::int64_t>(s.in_c, 1);
            depthwise2d_forward(d, xp, dwp, nullptr, mp, Epilogue{});
          }
        }
        if (mid) return py::make_tuple(y, *mid);
        return std::move(y);
      },
      py::arg("x"), py::arg("depthwise_w"), py::arg("pointwise_w"), py::arg("bias") = py::none(),
      py::arg("strides") = ConvPair{1, 1}, py::arg("dilations") = ConvPair{1, 1},
      py::arg("padding") = ConvQuad{0, 0, 0, 0}, py::arg("activation") = "linear", py::arg("negative_slope") = 0.0f,
      py::arg("return_mid") = false,
      "NHWC separable conv: depthwise (kh, kw, C, dm), then pointwise (C*dm, F) or (1, 1, C*dm, F), fused bias + "
      "activation, fused per tile. With return_mid=True returns (y, mid), mid the depthwise output that the "
      "backward pass takes.");
  m.def(
      "separable_conv2d_backward",
      [](py::handle x_obj, py::handle dw_obj, py::handle pw_obj, py::handle y_obj, py::handle dy_obj,
         py::handle mid_obj, ConvPair strides, ConvPair dilations, ConvQuad padding, bool has_bias, bool need_dx,
         const std::string& activation, float negative_slope, bool need_dw) {
        const FloatArray x = require_float_array(x_obj, "x", 4), dw = require_float_array(dw_obj, "depthwise_w", 4);
        const FloatArray pw = require_float_array(pw_obj, "pointwise_w");
        const Epilogue e = conv_epilogue_arg(activation, negative_slope);
        const SeparableArgs a = separable_args(x, dw, pw, strides, dilations, padding);
        const Conv2dShape& s = a.shape;
        const FloatArray dy = like(dy_obj, "dy", s.batch, s.out_h, s.out_w, s.out_c);
        std::optional<FloatArray> y, mid;
        if (!y_obj.is_none()) {
          y = like(y_obj, "y", s.batch, s.out_h, s.out_w, s.out_c);
        } else if (e.activation != FusedActivation::none) {
          throw py::value_error("The forward output `y` is required to back-propagate a fused activation. Received: "
                                "y=None with activation set");
        }
        if (!mid_obj.is_none()) mid = like(mid_obj, "mid", s.batch, s.out_h, s.out_w, a.mid_c);
        std::optional<FloatArray> dx, d_dw, d_pw, db;
        if (need_dx) dx = new_float_array(shape_of(x));
        if (need_dw) d_dw = new_float_array(shape_of(dw)), d_pw = new_float_array(shape_of(pw));
        if (has_bias) db = new_float_array({s.out_c});
        const float *xp = x.data(), *dwp = dw.data(), *pwp = pw.data(), *yp = y ? y->data() : nullptr;
        const float *dyp = dy.data(), *mp = mid ? mid->data() : nullptr;
        float *dxp = dx ? dx->mutable_data() : nullptr, *ddwp = d_dw ? d_dw->mutable_data() : nullptr;
        float *dpwp = d_pw ? d_pw->mutable_data() : nullptr, *dbp = db ? db->mutable_data() : nullptr;
        {
          py::gil_scoped_release release;
          separable_conv2d_backward(s, a.depth_multiplier, xp, dwp, pwp, mp, yp, dyp, dxp, ddwp, dpwp, dbp, e);
        }
        auto obj = [](std::optional<FloatArray>& v) { return v ? py::object(*v) : py::none(); };
        return py::make_tuple(obj(dx), obj(d_dw), obj(d_pw), obj(db));
      },
      py::arg("x"), py::arg("depthwise_w"), py::arg("pointwise_w"), py::arg("y"), py::arg("dy"),
      py::arg("mid") = py::none(), py::arg("strides") = ConvPair{1, 1}, py::arg("dilations") = ConvPair{1, 1},
      py::arg("padding") = ConvQuad{0, 0, 0, 0}, py::arg("has_bias") = true, py::arg("need_dx") = true,
      py::arg("activation") = "linear", py::arg("negative_slope") = 0.0f, py::arg("need_dw") = true,
      "Returns (dx, d_depthwise, d_pointwise, db), each None when not asked for. mid (the forward's return_mid "
      "output) saves recomputing the depthwise pass.");
}

}  // namespace convlite::bindings

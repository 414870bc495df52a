"""Convolution layers: Conv1D/2D, DepthwiseConv1D/2D, SeparableConv1D/2D (and Keras's Convolution* aliases).

One base class carries the logic; 1D layers run the 2D kernels with height 1. Padding takes Keras's values
(``valid``, ``same``; ``causal`` for Conv1D) case-insensitively, plus convlite's documented extensions: ``causal``
on every 1D conv, ``full`` (pad ``d*(k-1)`` on both sides) and explicit per-side padding (an int, or per spatial
dimension an int or a ``(before, after)`` pair); strides > 1 together with dilation > 1 are allowed.
"""
from __future__ import annotations

from .activation import emit_after, fused_epilogue, get_activation, serialize_activation
from .base import (Layer, check_data_format, check_rank, serialize_penalties, spatial_of, standardize_tuple,
                   trained_regularizer, weight_constraint)


# -------------------------------------------------------------------- padding geometry (shared with pooling)
def normalize_padding(padding, rank, allow_causal, layer_name):
    """A padding string (lower-cased) or explicit ((before, after),) * rank pairs."""
    if isinstance(padding, str):
        value = padding.lower()
        allowed = ["valid", "same", "full"] + (["causal"] if allow_causal else [])
        if value not in allowed:
            raise ValueError(f"The `padding` argument must be one of {allowed} (or explicit per-side sizes). "
                             f"Received: padding={padding!r}")
        return value
    items = (padding,) * rank if isinstance(padding, int) else tuple(padding) if _is_seq(padding) else None
    if rank == 1 and items is not None and len(items) == 2 and all(isinstance(p, int) for p in items):
        items = (items,)  # (before, after) of the one axis, as ZeroPadding1D takes it
    if items is None or len(items) != rank:
        axes = "one axis: an int or a (before, after) pair" if rank == 1 else \
            f"{rank} axes: an int, or {rank} entries each an int or a (before, after) pair"
        raise ValueError(f"Explicit `padding` must give the sizes of {axes}. Received: padding={padding!r}")
    pairs = []
    for item in items:
        pair = (item, item) if isinstance(item, int) else tuple(item) if _is_seq(item) else ()
        if len(pair) != 2 or any(isinstance(p, bool) or not isinstance(p, int) or p < 0 for p in pair):
            raise ValueError(f"Explicit `padding` sizes must be non-negative integers. Received: padding={padding!r}")
        pairs.append(pair)
    return tuple(pairs)


def _is_seq(value):
    return isinstance(value, (tuple, list))


class OutputSizeError(ValueError):
    """A spatial size too small for a layer's window: the model names the data's size when it re-raises it."""


def resolve_padding(padding, size, kernel, stride, dilation, dim, layer_name):
    """(pad_before, pad_after, out) along one spatial dimension, TensorFlow's rules (extra 'same' pad at the end)."""
    span = dilation * (kernel - 1) + 1
    if isinstance(padding, tuple):
        before, after = padding[dim]
    elif padding == "valid":
        before = after = 0
    elif padding == "same":
        out = -(-size // stride)
        total = max((out - 1) * stride + span - size, 0)
        before, after = total // 2, total - total // 2
    elif padding == "causal":
        before, after = span - 1, 0
    else:  # full
        before = after = span - 1
    out = (size + before + after - span) // stride + 1
    if size + before + after - span < 0 or out <= 0:
        raise OutputSizeError(
            f"Computed output size would be non-positive in layer {layer_name}: input size {size}, kernel "
            f"{kernel}, dilation {dilation}, stride {stride}, padding {padding!r}. Received: input size={size}"
        )
    return before, after, out


def output_sizes(layer, input_shape, dilation):
    """Per spatial axis the output size of a conv or pooling layer, None where the input size is unknown (Keras's
    symbolic shape; the model checks the concrete size once data arrives)."""
    sizes = tuple(input_shape)[1:-1]
    return tuple(None if n is None else resolve_padding(layer.padding, n, layer_kernel, stride, rate, axis,
                                                        layer.name)[2]
                 for axis, (n, layer_kernel, stride, rate) in
                 enumerate(zip(sizes, layer._window(), layer.strides, dilation)))


def _padding_config(padding):
    return padding if isinstance(padding, str) else [list(p) for p in padding]


class BaseConv(Layer):
    """Shared logic of every convolution layer. ``kind`` is 'conv', 'depthwise' or 'separable'."""

    kind = "conv"
    _activity_supported = True

    def __init__(self, rank, filters=None, kernel_size=None, strides=1, padding="valid", data_format=None,
                 dilation_rate=1, groups=1, activation=None, use_bias=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None,
                 activity_regularizer=None, kernel_constraint=None, bias_constraint=None, depth_multiplier=1,
                 depthwise_initializer="glorot_uniform", pointwise_initializer="glorot_uniform",
                 depthwise_regularizer=None, pointwise_regularizer=None, depthwise_constraint=None,
                 pointwise_constraint=None, **kwargs):
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        cls = type(self).__name__
        self.rank = rank
        if self.kind != "depthwise":
            if isinstance(filters, bool) or not isinstance(filters, int):
                raise ValueError(f"Invalid value for argument `filters`. Expected a positive integer. "
                                 f"Received filters={filters!r}.")
            if filters <= 0:  # Keras's own message
                raise ValueError(f"Invalid value for argument `filters`. Expected a strictly positive value. "
                                 f"Received filters={filters}.")
        if kernel_size is None:
            raise ValueError(f"Argument `kernel_size` of {cls} is required. Received: kernel_size=None")
        self.filters = filters
        self.kernel_size = standardize_tuple(kernel_size, rank, "kernel_size")
        self.strides = standardize_tuple(strides, rank, "strides")
        self.dilation_rate = standardize_tuple(dilation_rate, rank, "dilation_rate")
        if isinstance(groups, bool) or not isinstance(groups, int) or groups <= 0:
            raise ValueError(f"The number of groups must be a positive integer. Received: groups={groups}.")
        if self.kind == "conv" and filters % groups != 0:
            raise ValueError(f"The number of filters must be evenly divisible by the number of groups. "
                             f"Received: groups={groups}, filters={filters}.")
        self.groups = groups
        self.padding = normalize_padding(padding, rank, rank == 1, self.name)
        self.data_format = check_data_format(data_format)
        if isinstance(depth_multiplier, bool) or not isinstance(depth_multiplier, int):
            raise ValueError(f"Invalid value for argument `depth_multiplier`. Expected a positive integer. "
                             f"Received depth_multiplier={depth_multiplier!r}.")
        if depth_multiplier <= 0:  # Keras's own message
            raise ValueError(f"Invalid value for argument `depth_multiplier`. Expected a strictly positive value. "
                             f"Received depth_multiplier={depth_multiplier}.")
        self.depth_multiplier = depth_multiplier
        self.activation = get_activation(activation)
        fused_epilogue(self.activation)  # validates that convlite can compile it
        self.use_bias = bool(use_bias)
        self.kernel_initializer = kernel_initializer
        self.bias_initializer = bias_initializer
        self.depthwise_initializer = depthwise_initializer
        self.pointwise_initializer = pointwise_initializer
        # Keras's argument names per kind: conv kernel_*, depthwise depthwise_*, separable depthwise_* and pointwise_*.
        names = {"conv": ("kernel",), "depthwise": ("depthwise",), "separable": ("depthwise", "pointwise")}[self.kind]
        given = {"kernel": (kernel_regularizer, kernel_constraint), "depthwise": (depthwise_regularizer,
                 depthwise_constraint), "pointwise": (pointwise_regularizer, pointwise_constraint)}
        for prefix, (reg, con) in given.items():
            if prefix not in names and (reg is not None or con is not None):
                key, value = (f"{prefix}_regularizer", reg) if reg is not None else (f"{prefix}_constraint", con)
                raise TypeError(f"Unrecognized keyword arguments passed to {cls}: {{'{key}': {value!r}}}")
        self.penalties = {}  # weight kind -> {"regularizer": ..., "constraint": ...} (add_weight's keywords)
        for prefix in names + ("bias",):
            reg, con = given[prefix] if prefix != "bias" else (bias_regularizer, bias_constraint)
            self.penalties[prefix] = {"regularizer": trained_regularizer(reg, f"{prefix}_regularizer"),
                                      "constraint": weight_constraint(con, f"{prefix}_constraint")}

    # ---------------------------------------------------------------- build
    def _channels(self, input_shape):
        check_rank(self, input_shape, self.rank + 2)
        c = input_shape[-1]
        if c is None:
            raise ValueError(f"The channel dimension of the inputs to {type(self).__name__} should be defined. "
                             f"Received: input_shape={input_shape}")
        return c

    def build(self, input_shape):
        c = self._channels(input_shape)
        if self.kind == "conv":
            if c % self.groups != 0:
                raise ValueError(f"The number of input channels must be evenly divisible by the number of groups. "
                                 f"Received groups={self.groups}, but the input has {c} channels "
                                 f"(full input shape is {tuple(input_shape)}).")
            self.kernel = self.add_weight(self.kernel_size + (c // self.groups, self.filters),
                                          self.kernel_initializer, "kernel", **self.penalties["kernel"])
        else:
            # Keras names the depthwise layer's weight "kernel" and the separable one's "depthwise_kernel".
            separable = self.kind == "separable"
            self.depthwise_kernel = self.add_weight(
                self.kernel_size + (c, self.depth_multiplier),
                self.depthwise_initializer if separable else self.kernel_initializer,
                "depthwise_kernel" if separable else "kernel", **self.penalties["depthwise"])
            if not separable:
                self.kernel = self.depthwise_kernel
            if self.kind == "separable":
                self.pointwise_kernel = self.add_weight((1,) * self.rank + (c * self.depth_multiplier, self.filters),
                                                        self.pointwise_initializer, "pointwise_kernel",
                                                        **self.penalties["pointwise"])
        out_c = self.filters if self.kind != "depthwise" else c * self.depth_multiplier
        self.bias = self.add_weight((out_c,), self.bias_initializer, "bias", **self.penalties["bias"]) \
            if self.use_bias else None
        super().build(input_shape)

    def _geometry(self, input_shape):
        """Conv2dShape fields (per sample) for this input, 1D mapped to height 1."""
        h, w, c = spatial_of(input_shape)
        k = (1,) * (2 - self.rank) + self.kernel_size
        s = (1,) * (2 - self.rank) + self.strides
        d = (1,) * (2 - self.rank) + self.dilation_rate
        pad = self.padding
        if isinstance(pad, tuple) and self.rank == 1:
            pad = ((0, 0),) + pad
        if h is None or w is None:
            raise ValueError(f"{type(self).__name__} needs fixed spatial sizes. Received: input_shape={input_shape}")
        if self.rank == 1:
            top, bottom, oh = 0, 0, 1
        else:
            top, bottom, oh = resolve_padding(pad, h, k[0], s[0], d[0], 0, self.name)
        left, right, ow = resolve_padding(pad, w, k[1], s[1], d[1], 1, self.name)
        return dict(in_h=h, in_w=w, in_c=c, out_h=oh, out_w=ow, kernel_h=k[0], kernel_w=k[1], stride_h=s[0],
                    stride_w=s[1], dilation_h=d[0], dilation_w=d[1], pad_top=top, pad_bottom=bottom, pad_left=left,
                    pad_right=right)

    def _window(self):
        return self.kernel_size

    def compute_output_shape(self, input_shape):
        c = self._channels(input_shape)
        out_c = self.filters if self.kind != "depthwise" else c * self.depth_multiplier
        return (input_shape[0],) + output_sizes(self, input_shape, self.dilation_rate) + (out_c,)

    # ---------------------------------------------------------------- compile
    def _emit(self, core, input_shape):
        g = self._geometry(input_shape)
        fused, slope, _ = fused_epilogue(self.activation)
        bias = self.bias.value if self.bias is not None else None
        c = g["in_c"]
        if self.kind == "conv":
            core.add_conv2d({**g, "out_c": self.filters, "groups": self.groups}, fused, slope, self.kernel.value,
                            bias, False)
        elif self.kind == "depthwise":
            core.add_conv2d({**g, "out_c": c * self.depth_multiplier, "groups": c}, fused, slope,
                            self.depthwise_kernel.value, bias, True)
        else:  # one fused layer: depthwise then pointwise per tile, the intermediate kept in cache
            core.add_separable2d({**g, "out_c": self.filters}, self.depth_multiplier, fused, slope,
                                 self.depthwise_kernel.value, self.pointwise_kernel.value, bias)
        emit_after(core, self.activation, self.compute_output_shape(input_shape))
        self._emit_activity_regularizer(core, self.compute_output_shape(input_shape))

    def _flops(self, input_shape):
        g = self._geometry(input_shape)
        positions = g["out_h"] * g["out_w"]
        window = g["kernel_h"] * g["kernel_w"]
        c = g["in_c"]
        if self.kind == "conv":
            return 2 * positions * window * (c // self.groups) * self.filters
        mid = c * self.depth_multiplier
        flops = 2 * positions * window * mid
        if self.kind == "separable":
            flops += 2 * positions * mid * self.filters
        return flops

    def get_config(self):
        config = {
            **super().get_config(),
            "kernel_size": self.kernel_size, "strides": self.strides,
            "padding": _padding_config(self.padding), "data_format": self.data_format,
            "dilation_rate": self.dilation_rate, "activation": serialize_activation(self.activation),
            "use_bias": self.use_bias, "bias_initializer": _init_config(self.bias_initializer),
        }
        if self.kind != "depthwise":
            config["filters"] = self.filters
        if self.kind == "conv":
            config.update(groups=self.groups, kernel_initializer=_init_config(self.kernel_initializer))
        else:
            config["depth_multiplier"] = self.depth_multiplier
        if self.kind == "depthwise":
            config["depthwise_initializer"] = _init_config(self.kernel_initializer)
        if self.kind == "separable":
            config.update(depthwise_initializer=_init_config(self.depthwise_initializer),
                          pointwise_initializer=_init_config(self.pointwise_initializer))
        penalties = {f"{prefix}_regularizer": p["regularizer"] for prefix, p in self.penalties.items()}
        penalties["activity_regularizer"] = self.activity_regularizer
        penalties.update({f"{prefix}_constraint": p["constraint"] for prefix, p in self.penalties.items()})
        config.update(serialize_penalties(self, **penalties))
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config.pop("dtype", None)
        if isinstance(config.get("padding"), list):
            config["padding"] = tuple(tuple(p) for p in config["padding"])
        if cls.kind == "depthwise" and "depthwise_initializer" in config:
            config["kernel_initializer"] = config.pop("depthwise_initializer")
        return cls(**config)


def _init_config(init):
    if isinstance(init, str):
        return init
    get_config = getattr(init, "get_config", None)
    if get_config is None:
        return init
    return {"class_name": type(init).__name__, "config": get_config()}


class Conv1D(BaseConv):
    """``keras.layers.Conv1D``; also accepts padding 'causal', 'full' and explicit sizes."""

    def __init__(self, filters, kernel_size, strides=1, padding="valid", data_format=None, dilation_rate=1,
                 groups=1, activation=None, use_bias=True, **kwargs):
        super().__init__(1, filters, kernel_size, strides, padding, data_format, dilation_rate, groups, activation,
                         use_bias, **kwargs)


class Conv2D(BaseConv):
    """``keras.layers.Conv2D``; also accepts padding 'full' and explicit per-side sizes."""

    def __init__(self, filters, kernel_size, strides=(1, 1), padding="valid", data_format=None,
                 dilation_rate=(1, 1), groups=1, activation=None, use_bias=True, **kwargs):
        super().__init__(2, filters, kernel_size, strides, padding, data_format, dilation_rate, groups, activation,
                         use_bias, **kwargs)


class _Depthwise(BaseConv):
    kind = "depthwise"

    def __init__(self, rank, kernel_size, strides, padding, depth_multiplier, data_format, dilation_rate,
                 activation, use_bias, depthwise_initializer="glorot_uniform", **kwargs):
        kwargs.setdefault("kernel_initializer", depthwise_initializer)
        super().__init__(rank, None, kernel_size, strides, padding, data_format, dilation_rate, 1, activation,
                         use_bias, depth_multiplier=depth_multiplier, **kwargs)


class DepthwiseConv1D(_Depthwise):
    def __init__(self, kernel_size, strides=1, padding="valid", depth_multiplier=1, data_format=None,
                 dilation_rate=1, activation=None, use_bias=True, **kwargs):
        super().__init__(1, kernel_size, strides, padding, depth_multiplier, data_format, dilation_rate, activation,
                         use_bias, **kwargs)


class DepthwiseConv2D(_Depthwise):
    def __init__(self, kernel_size, strides=(1, 1), padding="valid", depth_multiplier=1, data_format=None,
                 dilation_rate=(1, 1), activation=None, use_bias=True, **kwargs):
        super().__init__(2, kernel_size, strides, padding, depth_multiplier, data_format, dilation_rate, activation,
                         use_bias, **kwargs)


class _Separable(BaseConv):
    kind = "separable"


class SeparableConv1D(_Separable):
    def __init__(self, filters, kernel_size, strides=1, padding="valid", data_format=None, dilation_rate=1,
                 depth_multiplier=1, activation=None, use_bias=True, **kwargs):
        super().__init__(1, filters, kernel_size, strides, padding, data_format, dilation_rate, 1, activation,
                         use_bias, depth_multiplier=depth_multiplier, **kwargs)


class SeparableConv2D(_Separable):
    def __init__(self, filters, kernel_size, strides=(1, 1), padding="valid", data_format=None,
                 dilation_rate=(1, 1), depth_multiplier=1, activation=None, use_bias=True, **kwargs):
        super().__init__(2, filters, kernel_size, strides, padding, data_format, dilation_rate, 1, activation,
                         use_bias, depth_multiplier=depth_multiplier, **kwargs)


Convolution1D = Conv1D
Convolution2D = Conv2D
SeparableConvolution1D = SeparableConv1D
SeparableConvolution2D = SeparableConv2D

"""Activation layers (Activation, ReLU, LeakyReLU, ELU, Softmax) and how an ``activation=`` argument compiles.

Every activation becomes an elementwise (or last-axis softmax) C++ layer; relu and leaky_relu after a Conv or
Dense are fused into that layer's epilogue instead (one pass less, exact: the mask comes from the output).
"""
from __future__ import annotations

from .base import Layer, prod

# Order of convlite::ActivationKind (cpp/include/convlite/activation.hpp).
CORE_KINDS = ("linear", "relu", "leaky_relu", "elu", "selu", "gelu", "gelu_tanh", "silu", "sigmoid",
              "hard_sigmoid", "tanh", "softplus", "softsign", "exponential", "relu6", "softmax", "log_softmax")
_FUSED = {"relu": 1, "leaky_relu": 2}


def get_activation(identifier):
    """The activation function for a name, function or None (Keras's ``activations.get``)."""
    from .. import activations

    return activations.get(identifier)


def activation_name(fn) -> str:
    """The core kind name of an activation function (``_core_kind`` is set by convlite.activations)."""
    kind = getattr(fn, "_core_kind", None)
    if kind is None:
        raise ValueError(f"convlite cannot compile this activation (only convlite.activations functions or their "
                         f"names are supported). Received: activation={fn!r}")
    if isinstance(kind, str):
        return kind
    return CORE_KINDS[int(kind)]


def serialize_activation(fn) -> str:
    return getattr(fn, "__name__", activation_name(fn))


def activation_defaults(name):
    """Parameters a bare activation function uses (keras.activations defaults)."""
    return {"negative_slope": 0.0, "max_value": None, "threshold": 0.0, "alpha": 0.2 if name == "leaky_relu" else 1.0}


def emit_activation(core, name, size, last_dim, negative_slope=0.0, max_value=None, threshold=0.0, alpha=None):
    if name == "linear":
        return core.add_view(size)
    if alpha is None:
        alpha = activation_defaults(name)["alpha"]
    core.add_activation(CORE_KINDS.index(name), size, last_dim, float(negative_slope),
                        None if max_value is None else float(max_value), float(threshold), float(alpha))


def fused_epilogue(fn):
    """(fused kind, slope, leftover activation name or None) for the ``activation=`` of a Conv/Dense layer."""
    name = activation_name(fn)
    if name == "linear":
        return 0, 0.0, None
    if name in _FUSED:
        return _FUSED[name], activation_defaults(name)["alpha"] if name == "leaky_relu" else 0.0, None
    return 0, 0.0, name


def emit_after(core, fn, output_shape):
    """Emit the part of ``fn`` that is not fused into the producing layer."""
    _, _, rest = fused_epilogue(fn)
    if rest is not None:
        emit_activation(core, rest, prod(output_shape[1:]), output_shape[-1])


class Activation(Layer):
    """Applies an activation function to its input (``keras.layers.Activation``)."""

    def __init__(self, activation, **kwargs):
        super().__init__(**kwargs)
        self.activation = get_activation(activation)
        activation_name(self.activation)

    def _emit(self, core, input_shape):
        name = activation_name(self.activation)
        emit_activation(core, name, prod(input_shape[1:]), input_shape[-1])

    def _flops(self, input_shape):
        return prod(input_shape[1:])

    def get_config(self):
        return {**super().get_config(), "activation": serialize_activation(self.activation)}


class ReLU(Layer):
    """``keras.layers.ReLU(max_value=None, negative_slope=0.0, threshold=0.0)``."""

    def __init__(self, max_value=None, negative_slope=0.0, threshold=0.0, **kwargs):
        super().__init__(**kwargs)
        if max_value is not None and max_value < 0.0:
            raise ValueError(f"max_value of a ReLU layer cannot be a negative value. Received: max_value={max_value}")
        if negative_slope is None or negative_slope < 0.0:
            raise ValueError(f"negative_slope of a ReLU layer cannot be a negative value. "
                             f"Received: negative_slope={negative_slope}")
        if threshold is None or threshold < 0.0:
            raise ValueError(f"threshold of a ReLU layer cannot be a negative value. Received: threshold={threshold}")
        self.max_value = None if max_value is None else float(max_value)
        self.negative_slope = float(negative_slope)
        self.threshold = float(threshold)

    def _emit(self, core, input_shape):
        emit_activation(core, "relu", prod(input_shape[1:]), input_shape[-1], self.negative_slope, self.max_value,
                        self.threshold)

    def _flops(self, input_shape):
        return prod(input_shape[1:])

    def get_config(self):
        return {**super().get_config(), "max_value": self.max_value, "negative_slope": self.negative_slope,
                "threshold": self.threshold}


class LeakyReLU(Layer):
    """``keras.layers.LeakyReLU(negative_slope=0.3)`` (the layer's default slope, not the function's 0.2)."""

    def __init__(self, negative_slope=0.3, **kwargs):
        if "alpha" in kwargs:
            negative_slope = kwargs.pop("alpha")
        super().__init__(**kwargs)
        if negative_slope is None or negative_slope < 0:
            raise ValueError("The negative_slope value of a Leaky ReLU layer cannot be None or negative value. "
                             f"Expected a float. Received: negative_slope={negative_slope}")
        self.negative_slope = float(negative_slope)

    def _emit(self, core, input_shape):
        emit_activation(core, "leaky_relu", prod(input_shape[1:]), input_shape[-1], alpha=self.negative_slope)

    def _flops(self, input_shape):
        return prod(input_shape[1:])

    def get_config(self):
        return {**super().get_config(), "negative_slope": self.negative_slope}


class ELU(Layer):
    """``keras.layers.ELU(alpha=1.0)``."""

    def __init__(self, alpha=1.0, **kwargs):
        super().__init__(**kwargs)
        self.alpha = float(alpha)

    def _emit(self, core, input_shape):
        emit_activation(core, "elu", prod(input_shape[1:]), input_shape[-1], alpha=self.alpha)

    def _flops(self, input_shape):
        return prod(input_shape[1:])

    def get_config(self):
        return {**super().get_config(), "alpha": self.alpha}


class Softmax(Layer):
    """``keras.layers.Softmax(axis=-1)``: convlite supports the last axis."""

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        if axis != -1:
            raise ValueError(f"convlite's Softmax works on the last axis only. Received: axis={axis}")
        self.axis = axis

    def _emit(self, core, input_shape):
        emit_activation(core, "softmax", prod(input_shape[1:]), input_shape[-1])

    def _flops(self, input_shape):
        return 3 * prod(input_shape[1:])

    def get_config(self):
        return {**super().get_config(), "axis": self.axis}

"""Input / InputLayer and Dense."""
from __future__ import annotations

from .activation import emit_after, fused_epilogue, get_activation, serialize_activation
from .base import (Layer, _as_shape, check_unsupported, prod, serialize_penalties, trained_regularizer,
                   weight_constraint)
from .conv import _init_config


class InputLayer(Layer):
    """Declares the per-sample input shape of a Sequential model (``keras.layers.InputLayer``)."""

    def __init__(self, shape=None, batch_size=None, dtype=None, sparse=None, batch_shape=None, name=None,
                 input_tensor=None, ragged=None, optional=False, **kwargs):
        if "input_shape" in kwargs and shape is None:
            shape = kwargs.pop("input_shape")
        if shape is None and batch_shape is None:
            raise ValueError("You must pass a `shape` argument to InputLayer. Received: shape=None")
        if batch_shape is not None:
            batch_size, shape = batch_shape[0], tuple(batch_shape)[1:]
        if sparse:
            raise ValueError(f"convlite does not support sparse inputs. Received: sparse={sparse}")
        if ragged:
            raise ValueError(f"convlite does not support ragged inputs. Received: ragged={ragged}")
        if optional:
            raise ValueError(f"convlite does not support optional inputs. Received: optional={optional}")
        super().__init__(name=name, dtype=dtype, **kwargs)
        self.shape = _as_shape(shape, "shape")
        if self.shape and self.shape[-1] is None:  # spatial sizes may be None (any length), channels may not
            raise ValueError(f"The channels (last) dimension of the input must be known: only the spatial "
                             f"dimensions (steps of a sequence, height and width of an image) may be None. "
                             f"Received: shape={shape}")
        self.batch_size = batch_size
        self.built = True

    @property
    def batch_shape(self):
        return (self.batch_size,) + self.shape

    def _emit(self, core, input_shape):
        core.add_view(prod(input_shape[1:]))

    def get_config(self):
        return {"batch_shape": (self.batch_size,) + self.shape, "dtype": "float32", "sparse": False,
                "name": self.name}


class KerasTensor:
    """What ``Input(shape)`` returns: the symbolic input of a model (shape with batch dimension ``None``)."""

    def __init__(self, layer: InputLayer):
        self._input_layer = layer
        self.shape = (layer.batch_size,) + layer.shape
        self.dtype = "float32"
        self.name = layer.name

    @property
    def ndim(self):
        return len(self.shape)

    def __repr__(self):
        return f"<KerasTensor shape={self.shape}, dtype=float32, name={self.name}>"


def Input(shape=None, batch_size=None, dtype=None, sparse=None, batch_shape=None, name=None, tensor=None,
          ragged=None, optional=False):
    """``keras.Input``: the symbolic input to start a Sequential model with."""
    return KerasTensor(InputLayer(shape=shape, batch_size=batch_size, dtype=dtype, sparse=sparse,
                                  batch_shape=batch_shape, name=name, ragged=ragged, optional=optional))


class Dense(Layer):
    """``keras.layers.Dense``: ``activation(x @ kernel + bias)`` on the last axis."""

    _activity_supported = True

    def __init__(self, units, activation=None, use_bias=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, bias_constraint=None, lora_rank=None, **kwargs):
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        if isinstance(units, bool) or not isinstance(units, int) or units <= 0:
            raise ValueError(f"Received an invalid value for `units`, expected a positive integer. "
                             f"Received: units={units!r}")
        self.units = units
        self.activation = get_activation(activation)
        fused_epilogue(self.activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = kernel_initializer
        self.bias_initializer = bias_initializer
        self.kernel_regularizer = trained_regularizer(kernel_regularizer, "kernel_regularizer")
        self.bias_regularizer = trained_regularizer(bias_regularizer, "bias_regularizer")
        self.kernel_constraint = weight_constraint(kernel_constraint, "kernel_constraint")
        self.bias_constraint = weight_constraint(bias_constraint, "bias_constraint")
        check_unsupported("Dense", lora_rank=lora_rank)

    def build(self, input_shape):
        if len(input_shape) < 2:
            raise ValueError(f'Input 0 of layer "{self.name}" is incompatible with the layer: expected axis -1 of '
                             f"input shape to have a defined value. Full shape received: {tuple(input_shape)}")
        if input_shape[-1] is None:  # e.g. Flatten of a sequence of unknown length
            raise ValueError(f"The last dimension of the inputs to a Dense layer should be defined. Found None. "
                             f"Full input shape received: {tuple(input_shape)}")
        self.kernel = self.add_weight((input_shape[-1], self.units), self.kernel_initializer, "kernel",
                                      regularizer=self.kernel_regularizer, constraint=self.kernel_constraint)
        self.bias = self.add_weight((self.units,), self.bias_initializer, "bias", regularizer=self.bias_regularizer,
                                    constraint=self.bias_constraint) if self.use_bias else None
        super().build(input_shape)

    def compute_output_shape(self, input_shape):
        if self.built and input_shape[-1] != self.kernel.shape[0]:
            raise ValueError(f'Input 0 of layer "{self.name}" is incompatible with the layer: expected axis -1 of '
                             f"input shape to have value {self.kernel.shape[0]}, but received input with shape "
                             f"{tuple(input_shape)}")
        return tuple(input_shape[:-1]) + (self.units,)

    def _emit(self, core, input_shape):
        fused, slope, _ = fused_epilogue(self.activation)
        rows = prod(input_shape[1:-1])
        core.add_dense(rows, input_shape[-1], self.units, fused, slope, self.kernel.value,
                       self.bias.value if self.bias is not None else None)
        emit_after(core, self.activation, self.compute_output_shape(input_shape))
        self._emit_activity_regularizer(core, self.compute_output_shape(input_shape))

    def _flops(self, input_shape):
        return 2 * prod(input_shape[1:]) * self.units

    def get_config(self):
        return {**super().get_config(), "units": self.units, "activation": serialize_activation(self.activation),
                "use_bias": self.use_bias, "kernel_initializer": _init_config(self.kernel_initializer),
                "bias_initializer": _init_config(self.bias_initializer),
                **serialize_penalties(self, kernel_regularizer=self.kernel_regularizer,
                                      bias_regularizer=self.bias_regularizer, kernel_constraint=self.kernel_constraint,
                                      bias_constraint=self.bias_constraint)}

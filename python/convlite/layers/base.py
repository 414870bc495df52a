"""Layer base class and the argument helpers every layer shares.

A convlite layer is a Keras-shaped description plus its parameters: it validates its arguments in ``__init__``
(Keras-style messages: what is wrong, then ``Received: name=value``), creates its weights as numpy float32 arrays in
``build()``, and knows how to ``_emit`` itself into the compiled model (``convlite._core.Model``), which runs the
actual forward/backward in C++ and updates the weight arrays in place. Shapes passed to ``build`` and
``compute_output_shape`` include the batch dimension (``None``), as in Keras.
"""
from __future__ import annotations

import re

import numpy as np

from .. import _core

_NAME_COUNTS: dict[str, int] = {}
# Bumped whenever any layer's `trainable` changes, so compiled models can check "still valid?" with one compare.
STRUCTURE_VERSION = [0]


def _snake_case(name: str) -> str:
    """Keras's to_snake_case: Conv2D -> conv2d, DepthwiseConv2D -> depthwise_conv2d, LeakyReLU -> leaky_re_lu."""
    name = re.sub(r"(.)([A-Z][a-z0-9]+)", r"\1_\2", name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower()


def unique_name(prefix: str) -> str:
    """Keras's auto names: ``conv2d``, ``conv2d_1``, ... counted per prefix for the whole session."""
    count = _NAME_COUNTS.get(prefix, 0)
    _NAME_COUNTS[prefix] = count + 1
    return prefix if count == 0 else f"{prefix}_{count}"


def _require_real(value: np.ndarray, path: str) -> None:
    """Weights are float32: bool, integer and float arrays are cast; complex (whose imaginary part a cast would
    drop), object, string and date arrays are a TypeError, as assigning them to a TensorFlow float32 variable is."""
    if value.dtype.kind not in "biuf":
        raise TypeError(
            f"Weights must be real numeric arrays (bool, integer or float). Received: dtype={value.dtype} for {path}"
        )


class SymbolicTensor:
    """A layer's symbolic input or output (shape with batch dimension ``None``), as Keras's KerasTensor shows it."""

    def __init__(self, shape, name):
        self.shape = tuple(shape)
        self.dtype = "float32"
        self.name = name

    @property
    def ndim(self):
        return len(self.shape)

    def __repr__(self):
        return f"<KerasTensor shape={self.shape}, dtype=float32, name={self.name}>"


class Variable:
    """A layer weight: a named numpy float32 array that the compiled model reads and updates in place.

    ``assign`` copies into the same memory (so the compiled model keeps seeing it); ``numpy()`` returns a copy.
    """

    def __init__(self, value: np.ndarray, name: str, trainable: bool, path: str):
        self.value = np.ascontiguousarray(value, dtype=np.float32)
        self.name = name
        self.trainable = trainable
        self.path = path

    @property
    def shape(self):
        return self.value.shape

    @property
    def dtype(self):
        return "float32"

    def numpy(self) -> np.ndarray:
        return self.value.copy()

    def assign(self, value) -> None:
        value = np.asarray(value)
        _require_real(value, self.path)
        if value.shape != self.value.shape:
            raise ValueError(
                f"The shape of the target variable and the shape of the target value in `variable.assign(value)` "
                f"must match. variable.shape={self.value.shape}, Received: value.shape={value.shape}. "
                f"Target variable: {self.path}"
            )
        np.copyto(self.value, value, casting="unsafe")

    def __array__(self, dtype=None, copy=None):
        return self.value if dtype is None else self.value.astype(dtype)

    def __repr__(self):
        return f"<Variable path={self.path}, shape={self.shape}, dtype=float32>"


class Layer:
    """Base of every convlite layer (Keras 3 ``keras.layers.Layer`` semantics for what convlite supports)."""

    # Layers whose _emit puts the activity penalty on their output (Keras lets every layer have one).
    _activity_supported = False

    def __init__(self, name=None, trainable=True, dtype=None, input_shape=None, batch_input_shape=None,
                 activity_regularizer=None, **kwargs):
        if kwargs:
            raise TypeError(f"Unrecognized keyword arguments passed to {type(self).__name__}: {kwargs}")
        if name is not None and not isinstance(name, str):
            raise TypeError(f"Argument `name` must be a string. Received: name={name!r}")
        if dtype not in (None, "float32", np.float32) and str(dtype) != "float32":
            raise ValueError(f"convlite layers compute in float32 only. Received: dtype={dtype}")
        self.name = name or unique_name(_snake_case(type(self).__name__))
        self._trainable = bool(trainable)
        self._variables: list[Variable] = []
        self.built = False
        self.input_shape_arg = None
        if batch_input_shape is not None:
            input_shape = tuple(batch_input_shape)[1:]
        if input_shape is not None:
            self.input_shape_arg = _as_shape(input_shape, "input_shape")
        self._build_shape = None
        self._output_shape = None
        if activity_regularizer is not None and not self._activity_supported:
            raise ValueError(f"convlite applies `activity_regularizer` on Dense, convolution and BatchNormalization "
                             f"layers only. Received: activity_regularizer={activity_regularizer!r} for "
                             f"{type(self).__name__}")
        self.activity_regularizer = trained_regularizer(activity_regularizer, "activity_regularizer")

    # ---------------------------------------------------------------- weights
    def add_weight(self, shape, initializer, name, trainable=True, regularizer=None, constraint=None):
        from .. import initializers

        init = initializers.get(initializer)
        size = 1
        for d in shape:
            size *= int(d)
        if size > 2**40:  # checked before the initializer allocates (numpy's overflow message names nothing)
            raise ValueError(f"Layer '{self.name}' would create a weight with {size} values (at most 2**40 are "
                             f"supported). Received: {name}.shape={tuple(shape)}")
        value = np.ascontiguousarray(init(tuple(shape), dtype="float32"), dtype=np.float32)
        var = Variable(value, name, trainable, f"{self.name}/{name}")
        var._always_frozen = not trainable  # e.g. BatchNormalization's moving statistics
        var.regularizer = regularizer  # Keras's variable.regularizer / .constraint: the compiled step applies them
        var.constraint = constraint
        self._variables.append(var)
        return var

    @property
    def trainable(self):
        return self._trainable

    @trainable.setter
    def trainable(self, value):
        self._trainable = bool(value)
        STRUCTURE_VERSION[0] += 1
        for var in self._variables:
            var.trainable = self._trainable and not getattr(var, "_always_frozen", False)

    @property
    def trainable_weights(self):
        return [v for v in self._variables if v.trainable and self._trainable]

    @property
    def non_trainable_weights(self):
        return [v for v in self._variables if not (v.trainable and self._trainable)]

    @property
    def weights(self):
        """Keras order: trainable weights first, then non-trainable, each in creation order."""
        return self.trainable_weights + self.non_trainable_weights

    trainable_variables = trainable_weights
    non_trainable_variables = non_trainable_weights
    variables = weights

    def get_weights(self):
        return [v.numpy() for v in self.weights]

    def set_weights(self, weights):
        params = self.weights
        weights = list(weights)
        if len(weights) != len(params):
            raise ValueError(
                f"Layer {self.name} weight shape mismatch: expected {len(params)} weights, "
                f"received {len(weights)}. Received: weights of length {len(weights)}"
            )
        arrays = [np.asarray(w) for w in weights]
        for var, value in zip(params, arrays):
            if value.shape != var.shape:
                raise ValueError(
                    f"Layer {self.name} weight shape {var.shape} is not compatible with provided weight shape "
                    f"{value.shape}. Received: weight of shape {value.shape} for {var.path}"
                )
            _require_real(value, var.path)
        for var, value in zip(params, arrays):
            np.copyto(var.value, value, casting="unsafe")

    def count_params(self):
        if not self.built:
            raise ValueError(
                f"You tried to call `count_params` on layer '{self.name}', but the layer isn't built. "
                "You can build it manually via: `layer.build(input_shape)`."
            )
        return int(sum(v.value.size for v in self._variables))

    # ---------------------------------------------------------------- shapes
    def build(self, input_shape):
        self._build_shape = tuple(input_shape)
        self.built = True

    def _maybe_build(self, input_shape):
        input_shape = (None,) + tuple(input_shape)[1:]
        if not self.built:
            self.build(input_shape)
            self._build_shape = input_shape
            self.built = True
        self._output_shape = self.compute_output_shape(input_shape)
        return self._output_shape

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    @property
    def input_shape(self):
        if self._build_shape is None:
            raise AttributeError(f"Layer {self.name} has no defined input shape yet (it is not built).")
        return self._build_shape

    @property
    def output_shape(self):
        if self._output_shape is None:
            raise AttributeError(f"Layer {self.name} has no defined output shape yet (it is not built).")
        return self._output_shape

    @property
    def input(self):
        """The symbolic input (Keras's ``layer.input``): a tensor of the built input shape."""
        if self._build_shape is None:
            raise AttributeError(f"The layer {self.name} has never been called and thus has no defined input.")
        return SymbolicTensor(self._build_shape, f"{self.name}_input")

    @property
    def output(self):
        """The symbolic output (Keras's ``layer.output``): a tensor of the built output shape."""
        if self._output_shape is None:
            raise AttributeError(f"The layer {self.name} has never been called and thus has no defined output.")
        return SymbolicTensor(self._output_shape, self.name)

    # ---------------------------------------------------------------- compiled model
    def _emit(self, core, input_shape):
        """Add this layer's C++ layer(s) to ``core`` for a per-batch input of ``input_shape`` (batch first)."""
        raise NotImplementedError(f"Layer {type(self).__name__} cannot be compiled.")

    def _emit_activity_regularizer(self, core, output_shape):
        """After this layer's C++ layers: the view that adds the activity penalty of its output to the loss."""
        if self.activity_regularizer is not None:
            from ..regularizers import trained_factors

            l1, l2 = trained_factors(self.activity_regularizer, "activity_regularizer")
            core.add_activity_regularization(l1, l2, prod(output_shape[1:]))

    def _flops(self, input_shape) -> int:
        """Forward multiply-adds x 2 per sample, for summary()."""
        return 0

    def __getstate__(self):
        # copy.deepcopy / pickle: the C++ model behind layer(x) is a cache, rebuilt on the next call.
        state = self.__dict__.copy()
        state.pop("_call_core", None)
        return state

    def __call__(self, inputs, training=False):
        """Run the layer on a numpy batch, building it for that shape first. ``training=True`` runs it as in
        ``fit``, as Keras's call does: dropout active (a fresh mask each call), batch normalization on the batch's
        statistics, folded into its moving statistics."""
        if hasattr(inputs, "_input_layer") or isinstance(inputs, SymbolicTensor):
            raise ValueError(f"convlite builds Sequential models only: layers are not called on symbolic inputs "
                             f"(Keras's functional API). Put the layers in `convlite.Sequential([...])`. "
                             f"Received: inputs={inputs!r}")
        x = np.ascontiguousarray(inputs, dtype=np.float32)
        if x.ndim < 1 or x.shape[0] == 0:
            raise ValueError(f"Layer {self.name} expects a non-empty batch. Received: inputs.shape={x.shape}")
        shape = (None,) + x.shape[1:]
        # A built layer keeps its symbolic output shape (None where a model's input size is unknown).
        out_shape = self.compute_output_shape(shape) if self.built else self._maybe_build(shape)
        cached = getattr(self, "_call_core", None)
        if cached is None or cached[0] != shape:
            core = _core.Model()
            self._emit(core, shape)
            self._call_core = cached = (shape, core)
            self._call_steps = 0
        if training:
            if self._call_steps == 0:  # seeded on first use, so inference calls leave the global seed stream alone
                from .. import utils  # utils imports the layers

                cached[1].set_seed(int(utils.next_seed()) & (2**63 - 1))
            self._call_steps += 1
            flat = cached[1].forward_training(x.reshape(x.shape[0], -1), self._call_steps)
        else:
            flat = cached[1].predict(x.reshape(x.shape[0], -1), x.shape[0])
        return flat.reshape((x.shape[0],) + tuple(out_shape[1:]))

    # ---------------------------------------------------------------- config
    def get_config(self):
        config = {"name": self.name, "trainable": self.trainable, "dtype": "float32"}
        if self.input_shape_arg is not None:
            config["batch_input_shape"] = (None,) + tuple(self.input_shape_arg)
        if self.activity_regularizer is not None:  # as Keras's Layer.get_config writes it
            from .. import regularizers

            config["activity_regularizer"] = regularizers.serialize(self.activity_regularizer)
        return config

    @classmethod
    def from_config(cls, config):
        from ..saving._config import without_neutral_keys  # saving imports the layers

        # A Keras layer's get_config() also writes keys for features convlite lacks (regularizers, renorm, ...):
        # dropped when they hold the "unused" value, kept otherwise so the constructor names the feature it refuses.
        config = without_neutral_keys(cls.__name__, dict(config))
        config.pop("dtype", None)
        return cls(**config)

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name}, built={self.built}>"


# -------------------------------------------------------------------- argument helpers
def _as_shape(shape, arg_name):
    if isinstance(shape, (int, np.integer)):
        shape = (int(shape),)
    try:
        shape = tuple(None if d is None else int(d) for d in shape)
    except (TypeError, ValueError):
        raise ValueError(f"Argument `{arg_name}` must be a tuple of positive integers. Received: "
                         f"{arg_name}={shape!r}") from None
    if any(d is not None and d <= 0 for d in shape):
        raise ValueError(f"Argument `{arg_name}` must be a tuple of positive integers. Received: "
                         f"{arg_name}={shape}")
    return shape


def standardize_tuple(value, n, name, allow_zero=False):
    """An int or an n-tuple of ints -> n-tuple; Keras's message on anything else."""
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        values = (int(value),) * n
    else:
        try:
            values = tuple(value)
        except TypeError:
            raise ValueError(f"The `{name}` argument must be a tuple of {n} integers. Received {name}={value!r}") \
                from None
        if len(values) != n or any(isinstance(v, bool) or not isinstance(v, (int, np.integer)) for v in values):
            raise ValueError(f"The `{name}` argument must be a tuple of {n} integers. Received {name}={value!r}")
        values = tuple(int(v) for v in values)
    low = 0 if allow_zero else 1
    if any(v < low or v >= 2**31 for v in values):  # beyond int32 numpy's shape arithmetic would overflow
        rule = ("non-negative" if allow_zero else "positive") + " (below 2**31)"
        raise ValueError(f"The `{name}` argument must be a tuple of {n} {rule} integers. Received {name}={value}")
    return values


def check_data_format(data_format):
    if data_format in (None, "channels_last"):
        return "channels_last"
    if data_format == "channels_first":
        raise ValueError("convlite supports data_format='channels_last' only (NWC / NHWC). "
                         f"Received: data_format={data_format}")
    raise ValueError(f"The `data_format` argument must be one of {{'channels_first', 'channels_last'}}. "
                     f"Received: data_format={data_format}")


def trained_regularizer(value, argument):
    """A regularizer argument: None or one the compiled step trains (L1 / L2 / L1L2), from anything
    ``regularizers.get`` takes; an OrthogonalRegularizer is a ValueError naming the argument."""
    from .. import regularizers  # regularizers is a leaf module; imported here to keep layer imports light

    reg = regularizers.get(value)
    if reg is not None:
        regularizers.trained_factors(reg, argument)
    return reg


def weight_constraint(value, argument):
    """A constraint argument: None or a convlite constraint, from anything ``constraints.get`` takes."""
    from .. import constraints

    return constraints.get(value)


def serialize_penalties(layer, **attributes):
    """{argument: Keras's serialized regularizer / constraint (or None)} for get_config."""
    from .. import constraints, regularizers

    out = {}
    for key, value in attributes.items():
        out[key] = (constraints.serialize(value) if key.endswith("_constraint") else regularizers.serialize(value))
    return out


def check_unsupported(layer_name, **args):
    """Arguments convlite does not implement: accepted only as None."""
    for key, value in args.items():
        if value is not None:
            raise ValueError(f"{layer_name} does not support `{key}` in convlite. Received: {key}={value!r}")


def check_rank(layer, input_shape, rank):
    """Keras's input_spec check: ndim (batch included) must be ``rank``."""
    if len(input_shape) != rank:
        raise ValueError(
            f'Input 0 of layer "{layer.name}" is incompatible with the layer: expected ndim={rank}, '
            f"found ndim={len(input_shape)}. Full shape received: {tuple(input_shape)}"
        )


def spatial_of(input_shape):
    """(h, w, c) of a per-sample NWC/NHWC shape (1D -> h = 1)."""
    dims = tuple(input_shape)[1:]
    if len(dims) == 2:
        return 1, dims[0], dims[1]
    if len(dims) == 3:
        return dims
    raise ValueError(f"Expected a 1D (steps, channels) or 2D (h, w, channels) input. Received: shape={input_shape}")


def prod(dims) -> int:
    out = 1
    for d in dims:
        out *= int(d)
    return out

"""``convlite.Sequential``: Keras's Sequential API over a compiled C++ model.

The layers describe the network; ``_core.Model`` runs it. Each training batch is ONE Python-to-C++ call
(``train_step``: gather rows, forward, loss, backward, accuracy, optimizer update, GIL released), so a small model
pays microseconds of framework overhead per step. Parameters are the layers' numpy arrays, updated in place.
"""
from __future__ import annotations

import numpy as np

from . import _core
from . import _fit_data as fd
from .layers import base as _base
from ._sequential_api import SequentialAPI, clone_model, model_from_json
from ._sequential_compile import SequentialCompile
from ._sequential_io import SequentialIO
from ._sequential_shapes import SequentialShapes
from .layers.core import InputLayer, KerasTensor

_MODULES: dict = {}


def _module(name):
    """convlite.<name>, imported on first use (keeps `import convlite` fast) and cached."""
    if name not in _MODULES:
        _MODULES[name] = _import(name)
    return _MODULES[name]


def _import(name):
    import importlib

    return importlib.import_module(f"convlite.{name}")


_MAX_SAMPLE_SIZE = 2**40  # values per sample; beyond this the C++ model's int64 buffer sizes could overflow


def _batch_source(x) -> bool:
    """A generator or dataset rather than array data (_fit_batches.is_batch_source); a numpy array, the common and
    latency-sensitive case, is answered without importing the batch machinery."""
    if isinstance(x, np.ndarray):
        return False
    from ._fit_batches import is_batch_source

    return is_batch_source(x)


def _check_sample_size(shape, what):
    """ValueError (before anything is allocated) when one sample of `shape` cannot exist: e.g. UpSampling2D by
    2**30 used to wrap the C++ model's buffer sizes around and crash. Unknown (None) sizes are checked on the data."""
    size = 1
    for d in shape[1:]:
        size *= 1 if d is None else int(d)
    if size > _MAX_SAMPLE_SIZE:
        raise ValueError(f"The model is too large: {what} has {size} values per sample (at most 2**40 are "
                         f"supported). Received: shape={tuple(shape)}")


class Sequential(SequentialAPI, SequentialCompile, SequentialIO, SequentialShapes):
    """A linear stack of layers (``keras.Sequential``) trained and run by convlite's C++ core."""

    def __init__(self, layers=None, trainable=True, name=None):
        self.name = name or _base.unique_name("sequential")
        self._layers: list = []
        self._trainable = bool(trainable)
        self._input_layer: InputLayer | None = None
        self._core = None
        self.built = False
        self.compiled = False
        self.optimizer = None
        self.loss = None
        self.stop_training = False
        self.history = None
        self._dropout_step = 0
        for layer in layers or []:
            self.add(layer, rebuild=False)
        if self._layers and self._input_shape() is not None:
            self.build()

    @property
    def trainable(self):
        return self._trainable

    @trainable.setter
    def trainable(self, value):
        """As in Keras, setting it sets every layer's ``trainable`` (re-compile-free here: the core rebuilds)."""
        self._trainable = bool(value)
        for layer in self._layers:
            layer.trainable = value

    # ---------------------------------------------------------------- structure
    def add(self, layer, rebuild=True):
        if isinstance(layer, KerasTensor):
            layer = layer._input_layer
        if not isinstance(layer, _base.Layer):
            raise ValueError(f"Only instances of `convlite.layers.Layer` can be added to a Sequential model. "
                             f"Received: {layer!r} (of type {type(layer).__name__})")
        if isinstance(layer, InputLayer):
            if self._layers or self._input_layer is not None:
                raise ValueError("Sequential model may only have one InputLayer, at the start. "
                                 f"Received: an extra InputLayer {layer.name}")
            self._input_layer = layer
        else:
            if any(l.name == layer.name for l in self._layers):
                raise ValueError(f"All layers added to a Sequential model should have unique names. Name "
                                 f'"{layer.name}" is already the name of a layer in this model.')
            self._layers.append(layer)
        self._core = None
        self.built = False
        if rebuild and self._layers and self._input_shape() is not None:  # (an Input alone waits for a layer)
            self.build()

    def pop(self, rebuild=True):
        if not self._layers:
            raise TypeError("There are no layers in the model.")
        layer = self._layers.pop()
        self._core = None
        self.built = False
        if rebuild and self._layers and self._input_shape() is not None:
            self.build()
        return layer

    @property
    def layers(self):
        return list(self._layers)

    def get_layer(self, name=None, index=None):
        """A layer by name or by index (Keras's checks: not both; an index past the end is a ValueError)."""
        if index is not None and name is not None:
            raise ValueError(f"Provide only a layer name or a layer index. Received: index={index}, name={name}.")
        if index is not None:
            if len(self._layers) <= index:
                raise ValueError(f"Was asked to retrieve layer at index {index} but model only has "
                                 f"{len(self._layers)} layers.")
            return self._layers[index]
        if name is None:
            raise ValueError("Provide either a layer name or layer index at `get_layer`.")
        for layer in self._layers:
            if layer.name == name:
                return layer
        raise ValueError(f"No such layer: {name}. Existing layers are: {[l.name for l in self._layers]}.")

    def _input_shape(self):
        if self._input_layer is not None:
            return self._input_layer.shape
        if self._layers and self._layers[0].input_shape_arg is not None:
            return self._layers[0].input_shape_arg
        return None

    def build(self, input_shape=None):
        """Build every layer for ``input_shape`` (batch dimension included, or taken from the Input)."""
        if input_shape is not None:
            per_sample = tuple(input_shape)[1:]
            if self._input_layer is None:
                self._input_layer = InputLayer(shape=per_sample)
            elif tuple(self._input_layer.shape) != per_sample:
                raise ValueError(f'Input 0 of layer "{self.name}" is incompatible with the layer: expected '
                                 f"shape={(None,) + self._input_layer.shape}, found shape={tuple(input_shape)}")
        shape = self._input_shape()
        if shape is None:
            raise ValueError("The model has no input shape yet: start it with `convlite.Input(shape)`, pass "
                             "`input_shape=` to the first layer, or call `build(input_shape)`. Received: no input "
                             "shape")
        if self._input_layer is None:
            self._input_layer = InputLayer(shape=shape)
        if not self._layers:
            raise ValueError(f"Sequential model {self.name} cannot be built because it has no layers. "
                             "Call `model.add(layer)`.")
        shape = (None,) + tuple(shape)
        _check_sample_size(shape, "the input")
        for layer in self._layers:
            shape = layer._maybe_build(shape)
            _check_sample_size(shape, f"the output of layer '{layer.name}'")
        self._output_shape = shape
        self._variable_input = any(d is None for d in self._input_layer.shape)
        self._output_shapes = {}  # concrete per-sample input shape -> output shape (variable inputs)
        self.built = True
        return shape

    def _ensure_built(self, x_shape=None):
        if not self.built:
            if self._input_shape() is None and x_shape is not None:
                self.build((None,) + tuple(x_shape))
            else:
                self.build()

    @property
    def input_shape(self):
        self._ensure_built()
        return (None,) + tuple(self._input_layer.shape)

    @property
    def output_shape(self):
        self._ensure_built()
        return self._output_shape

    @property
    def inputs(self):
        return [KerasTensor(self._input_layer)] if self._input_layer is not None else None

    # ---------------------------------------------------------------- weights
    @property
    def weights(self):
        return [v for layer in self._layers for v in layer.weights]

    @property
    def trainable_weights(self):
        return [v for layer in self._layers for v in layer.trainable_weights]

    @property
    def non_trainable_weights(self):
        return [v for layer in self._layers for v in layer.non_trainable_weights]

    trainable_variables = trainable_weights
    non_trainable_variables = non_trainable_weights
    variables = weights

    def get_weights(self):
        """Every layer's weights in Keras order (per layer: trainable first, then non-trainable)."""
        self._ensure_built()
        return [w for layer in self._layers for w in layer.get_weights()]

    def set_weights(self, weights):
        self._ensure_built()
        weights = list(weights)
        expected = sum(len(layer.weights) for layer in self._layers)
        if len(weights) != expected:
            raise ValueError(f"You called `set_weights(weights)` on model {self.name} with a weight list of length "
                             f"{len(weights)}, but the model was expecting {expected} weights. "
                             f"Received: weights of length {len(weights)}")
        start = 0
        per_layer = []
        for layer in self._layers:
            count = len(layer.weights)
            per_layer.append((layer, weights[start:start + count]))
            start += count
        for layer, values in per_layer:  # check every shape before copying anything
            for var, value in zip(layer.weights, values):
                value = np.asarray(value)
                if value.shape != var.shape:
                    raise ValueError(f"Layer {layer.name} weight shape {var.shape} is not compatible with provided "
                                     f"weight shape {value.shape}. Received: weight of shape {value.shape} for "
                                     f"{var.path}")
        for layer, values in per_layer:
            layer.set_weights(values)

    def count_params(self):
        self._ensure_built()
        return int(sum(layer.count_params() for layer in self._layers))

    # ---------------------------------------------------------------- the compiled C++ model
    def _compiled_core(self, training=False, sample_shape=None):
        """The C++ model for the current layers (built once, rebuilt after add/pop/compile).

        A model whose input has unknown (None) spatial sizes is compiled per concrete per-sample shape of the data
        (`sample_shape`; see `_data_shape`): a few such models are kept, and all of them point into the same weight,
        optimizer-slot and batch-norm statistics arrays, so training on one length and then another updates one
        set of weights. Without a `sample_shape` such a model only prepares the optimizer's slots (returns None)."""
        self._ensure_built()
        if self._core is not None and self._core_version != _base.STRUCTURE_VERSION[0]:
            signature = tuple(layer.trainable for layer in self._layers)
            if signature != self._core_signature:
                self._core = None  # trainable flags changed: Keras needs a re-compile, we rebuild the core
            self._core_version = _base.STRUCTURE_VERSION[0]
        if self._variable_input:
            return self._core_for_shape(sample_shape)
        if self._core is None:
            self._core = self._new_core(self._input_layer.shape, self._output_shape)
        return self._core

    def _new_core(self, sample_shape, output_shape, seed=None):
        self._core_signature = tuple(layer.trainable for layer in self._layers)
        self._core_version = _base.STRUCTURE_VERSION[0]
        core = _core.Model()
        shape = (None,) + tuple(sample_shape)
        flops = 0
        for layer in self._layers:
            layer._emit(core, shape)
            flops += layer._flops(shape)
            shape = layer.compute_output_shape(shape)
        core.set_forward_flops_per_sample(float(flops))
        core.set_trainable([self._is_trainable(layer) for layer in self._layers for v in layer.weights
                            if not v._always_frozen])
        core.set_seed(int(_module("utils").next_seed()) & (2**63 - 1) if seed is None else seed)
        if self.compiled:
            self._configure_training(core, output_shape)
        return core

    def _is_trainable(self, layer):
        return bool(layer.trainable)

    # ---------------------------------------------------------------- training
    def fit(self, x=None, y=None, batch_size=None, epochs=1, verbose="auto", callbacks=None, validation_split=0.0,
            validation_data=None, shuffle=True, class_weight=None, sample_weight=None, initial_epoch=0,
            steps_per_epoch=None, validation_steps=None, validation_batch_size=None, validation_freq=1):
        from ._training import reject_steps, run_fit

        if _batch_source(x):  # a generator or dataset yields the batches (_fit_batches)
            from ._fit_batches import run_fit as run_fit_batches

            return run_fit_batches(self, x, y, batch_size, epochs, verbose, callbacks, validation_split,
                                   validation_data, shuffle, class_weight, sample_weight, initial_epoch,
                                   steps_per_epoch, validation_steps, validation_batch_size, validation_freq)
        reject_steps(steps_per_epoch=steps_per_epoch)
        return run_fit(self, x, y, batch_size, epochs, verbose, callbacks, validation_split, validation_data,
                       shuffle, class_weight, sample_weight, initial_epoch, validation_batch_size, validation_freq,
                       validation_steps)

    def evaluate(self, x=None, y=None, batch_size=None, verbose="auto", sample_weight=None, steps=None,
                 callbacks=None, return_dict=False, **kwargs):
        from ._training import reject_steps, run_evaluate

        if kwargs:
            raise TypeError(f"Invalid keyword arguments: {sorted(kwargs)}")
        if _batch_source(x):
            from ._fit_batches import run_evaluate as run_evaluate_batches

            return run_evaluate_batches(self, x, y, verbose, sample_weight, steps, callbacks, return_dict)
        reject_steps(steps=steps)
        return run_evaluate(self, x, y, batch_size, verbose, sample_weight, callbacks, return_dict)

    def predict(self, x, batch_size=None, verbose="auto", steps=None, callbacks=None):
        from ._training import reject_steps, run_predict

        if _batch_source(x):
            from ._fit_batches import run_predict as run_predict_batches

            return run_predict_batches(self, x, verbose, steps, callbacks)
        reject_steps(steps=steps)
        return run_predict(self, x, batch_size, verbose, callbacks)

    def train_on_batch(self, x, y=None, sample_weight=None, class_weight=None, return_dict=False):
        return self._on_batch(x, y, sample_weight, class_weight, return_dict, training=True)

    def test_on_batch(self, x, y=None, sample_weight=None, return_dict=False):
        return self._on_batch(x, y, sample_weight, None, return_dict, training=False)

    def _on_batch(self, x, y, sample_weight, class_weight, return_dict, training):
        """One batch; afterwards ``model.metrics`` hold that batch's results, as Keras's (reset, then one step)."""
        from ._training import evaluate_result, run_on_batch

        logs = run_on_batch(self, x, y, sample_weight, class_weight, training=training)
        self._record_metric_logs(logs)
        return evaluate_result(self, logs, return_dict)

    def predict_on_batch(self, x):
        """Inference on one batch: one C++ call, no progress bar."""
        core = self._core
        if core is not None and type(x) is np.ndarray and x.dtype == np.float32 and x.flags.c_contiguous and \
                x.ndim > 1 and x.shape[1:] == self._input_layer.shape and x.shape[0] > 0 and \
                self._core_version == _base.STRUCTURE_VERSION[0]:
            # Fast path (single-sample latency): input already float32, contiguous and of the right shape.
            n = x.shape[0]
            return core.predict(x.reshape(n, -1), n).reshape((n,) + self._output_shape[1:])
        if core is not None and self._variable_input and type(x) is np.ndarray and x.dtype == np.float32 and \
                x.flags.c_contiguous and x.ndim > 1 and x.shape[0] > 0 and \
                self._core_version == _base.STRUCTURE_VERSION[0]:
            # The same for inputs of unknown length, at a length seen before (its shape was checked then).
            entry, out_shape = self._cores.get(x.shape[1:]), self._output_shapes.get(x.shape[1:])
            if entry is not None and out_shape is not None:
                n = x.shape[0]
                return entry[0].predict(x.reshape(n, -1), n).reshape((n,) + out_shape[1:])
        self._ensure_built(np.shape(x)[1:] if np.ndim(x) else None)
        x = fd.check_input(x, self._input_layer.shape, self.name)
        shape = self._data_shape(x)
        out_shape = self._output_shape_for(shape)
        out = self._compiled_core(sample_shape=shape).predict(x.reshape(x.shape[0], -1), x.shape[0])
        return out.reshape((x.shape[0],) + tuple(out_shape[1:]))

    def __call__(self, inputs, training=False):
        """Run the model on one batch. ``training=True`` runs it as ``fit`` does, as Keras's call does: dropout
        active (a fresh mask each call), batch normalization on the batch's statistics, which it folds into its
        moving statistics."""
        if not training:
            return self.predict_on_batch(inputs)
        self._ensure_built(np.shape(inputs)[1:] if np.ndim(inputs) else None)
        x = fd.check_input(inputs, self._input_layer.shape, self.name)
        shape = self._data_shape(x)
        out_shape = self._output_shape_for(shape)
        self._dropout_step += 1
        out = self._compiled_core(sample_shape=shape).forward_training(x.reshape(x.shape[0], -1), self._dropout_step)
        return out.reshape((x.shape[0],) + tuple(out_shape[1:]))

    def __getstate__(self):
        # copy.deepcopy / pickle: the compiled C++ model is a cache of the layers, rebuilt on first use.
        state = self.__dict__.copy()
        state["_core"] = None
        state.pop("_cores", None)
        return state

    def __repr__(self):
        return f"<Sequential name={self.name}, built={self.built}>"


__all__ = ["Sequential", "clone_model", "load_model", "model_from_json", "save_model"]


def save_model(model, filepath, overwrite=True, zipped=None, **kwargs):
    """``keras.models.save_model``: ``model.save(filepath)`` as a ``.keras`` file (``convlite.saving``)."""
    if kwargs:
        raise TypeError(f"Invalid keyword arguments: {sorted(kwargs)}")
    if zipped is False:
        raise ValueError("convlite writes zipped .keras files only. Received: zipped=False")
    from . import saving

    saving.save_model(model, filepath, overwrite=overwrite)


def load_model(filepath, custom_objects=None, compile=True, safe_mode=True):  # noqa: A002 - Keras's name
    """Load a Sequential model from a ``.keras`` file written by convlite or Keras 3 (``convlite.saving``)."""
    from . import saving

    return saving.load_model(filepath, custom_objects=custom_objects, compile=compile, safe_mode=safe_mode)

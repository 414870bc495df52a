"""Sequential on inputs of unknown size (``Input((None, C))``, ``Input((None, None, C))``), as in Keras.

The C++ model is concrete: it is compiled per per-sample shape of the data, and a few of these are kept. All of them
point into the same Python-owned arrays (weights, optimizer slots, batch-norm moving statistics), so training on one
length and then another updates one set of weights. A model whose input shape is fully known never comes here: its
one compiled model serves every call, as before. Kept apart from models.py, which mixes this class in.
"""
from __future__ import annotations

from .layers import base as _base
from .layers.conv import OutputSizeError

# A model whose input has unknown (None) spatial sizes compiles one C++ model per concrete per-sample shape of the
# data; this many are kept (the oldest dropped first), and this many output shapes remembered. Each one holds
# activation buffers for its shape, so beyond the newest, cached models together stay under this many activation
# values per sample (input plus every layer's output): long recordings keep only the model in use.
_MAX_CACHED_CORES = 8
_MAX_CACHED_SHAPES = 256
_MAX_CACHED_VALUES = 2**22


def _module(name):
    from .models import _module as module  # models imports this file

    return module(name)


class SequentialShapes:
    """Mixed into ``convlite.Sequential``: compiled models and output shapes per concrete input shape."""

    def _core_for_shape(self, sample_shape):
        """The cached C++ model for one concrete per-sample shape (models with unknown input sizes)."""
        if self._core is None:  # never built, or invalidated (add, pop, compile, trainable): start afresh
            self._cores = {}
            self._cores_seed = None
        if sample_shape is None:  # no data yet (e.g. loading optimizer state): only the slots can be made
            if self.compiled:
                self._build_optimizer_slots()
            return None
        key = tuple(sample_shape)
        entry = self._cores.get(key)
        if entry is None:
            if self._cores_seed is None:  # one dropout stream for every length, as one model has in Keras
                self._cores_seed = int(_module("utils").next_seed()) & (2**63 - 1)
            core = self._new_core(key, self._output_shape_for(key), self._cores_seed)
            entry = self._cores[key] = [core, getattr(self, "_cpp_metric", None), self._activation_values(key)]
            while len(self._cores) > _MAX_CACHED_CORES or \
                    (len(self._cores) > 1 and sum(e[2] for e in self._cores.values()) > _MAX_CACHED_VALUES):
                del self._cores[next(iter(self._cores))]  # the oldest (the new one is last)
        elif self.compiled and entry[1] is not self._cpp_metric:  # 'accuracy' resolved since this one was made
            from ._sequential_compile import ACCURACY_KINDS

            cpp = entry[1] = self._cpp_metric
            entry[0].set_accuracy(ACCURACY_KINDS[type(cpp).__name__] if cpp is not None else 0,
                                  float(getattr(cpp, "threshold", 0.5)))
        self._core = entry[0]
        return entry[0]

    def _activation_values(self, sample_shape):
        """Values per sample of the input and every layer's output: what a compiled model's buffers scale with."""
        shape = (None,) + tuple(sample_shape)
        total = _base.prod(sample_shape)
        for layer in self._layers:
            shape = layer.compute_output_shape(shape)
            total += _base.prod(shape[1:])
        return total

    def _data_shape(self, x):
        """The per-sample shape to compile for data `x` (checked by fd.check_input): None for a model whose input
        shape is fully known (its one compiled model serves all data), x's own shape otherwise."""
        return tuple(x.shape[1:]) if self._variable_input else None

    def _output_shape_for(self, sample_shape):
        """The output shape (batch None) for inputs of `sample_shape` (None: the model's own, fully known one).
        A size too small for some layer's window is a ValueError naming the data's size."""
        if sample_shape is None:
            return self._output_shape
        shape = self._output_shapes.get(sample_shape)
        if shape is not None:
            return shape
        from .models import _check_sample_size  # models imports this file

        shape = (None,) + tuple(sample_shape)
        _check_sample_size(shape, "the input")
        try:
            for layer in self._layers:
                shape = layer.compute_output_shape(shape)
                _check_sample_size(shape, f"the output of layer '{layer.name}'")
        except OutputSizeError as error:
            sizes = tuple(sample_shape[:-1])
            what = f"length {sizes[0]}" if len(sizes) == 1 else f"size {sizes}"
            reason = str(error).split(" Received:")[0].rstrip(".")
            raise ValueError(f"The input's {what} is too small for model '{self.name}': {reason}. "
                             f"Received: inputs of shape {(None,) + tuple(sample_shape)}") from None
        if len(self._output_shapes) >= _MAX_CACHED_SHAPES:
            self._output_shapes.clear()
        self._output_shapes[sample_shape] = shape
        return shape

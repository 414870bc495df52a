"""A stand-in for a Sequential model, as the saving code sees one: Keras class names, numpy weights.

It lets the file-format and hostile-file tests run without the C++ model and without TensorFlow.
"""
from __future__ import annotations

import numpy as np


class _StandInLayer:
    def __init__(self, name, shapes, rng):
        self.name = name
        self._weights = [rng.standard_normal(shape).astype(np.float32) for shape in shapes]

    def get_weights(self):
        return [w.copy() for w in self._weights]

    def set_weights(self, weights):
        assert [w.shape for w in weights] == [w.shape for w in self._weights]
        self._weights = [np.array(w, dtype=np.float32) for w in weights]

    def get_config(self):
        return {"name": self.name}


class StandInModel:
    """Conv1D(4,3) -> MaxPooling1D -> Conv1D(5,3) -> Flatten -> Dense(2) on (16, 3) inputs, as weights only."""

    def __init__(self, rng):
        def layer(class_name, name, shapes):
            return type(class_name, (_StandInLayer,), {})(name, shapes, rng)

        self.name = "sequential"
        self.input_shape = (None, 16, 3)
        self.optimizer = None
        self.layers = [
            layer("Conv1D", "conv1d", [(3, 3, 4), (4,)]),
            layer("MaxPooling1D", "max_pooling1d", []),
            layer("Conv1D", "conv1d_1", [(3, 4, 5), (5,)]),
            layer("Flatten", "flatten", []),
            layer("Dense", "dense", [(25, 2), (2,)]),
        ]

    def get_weights(self):
        return [w for layer in self.layers for w in layer.get_weights()]

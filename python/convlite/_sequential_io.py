"""Sequential's summary, config and file methods (Keras 3 formats; the work happens in convlite.saving and
convlite._summary), kept apart from the training and inference plumbing in models.py."""
from __future__ import annotations

from .layers.core import InputLayer


class SequentialIO:
    """Mixed into ``convlite.Sequential``: summary(), get_config() / from_config(), save(), save_weights(),
    load_weights()."""

    def summary(self, line_length=None, positions=None, print_fn=None, expand_nested=False, show_trainable=False,
                layer_range=None):
        from ._training import summary_text

        if positions is not None and (len(positions) != 3 or positions[-1] > 1):
            raise ValueError("convlite's summary takes `positions` as the three relative column ends of Keras's "
                             f"Sequential table, e.g. [0.45, 0.8, 1.0]. Received: positions={positions!r}")
        if expand_nested or layer_range is not None:
            raise ValueError("A Sequential model of convlite has no nested models or layer ranges to show. "
                             f"Received: expand_nested={expand_nested!r}, layer_range={layer_range!r}")
        text = summary_text(self, line_length=line_length, positions=positions, show_trainable=show_trainable)
        (print_fn or print)(text.rstrip("\n"))

    def get_config(self):
        layers = []
        if self._input_layer is not None:
            layers.append({"module": "keras.layers", "class_name": "InputLayer",
                           "config": self._input_layer.get_config()})
        for layer in self._layers:
            layers.append({"module": "keras.layers", "class_name": type(layer).__name__,
                           "config": layer.get_config()})
        return {"name": self.name, "trainable": self.trainable, "dtype": "float32", "layers": layers}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        from . import layers as layers_mod

        model = cls(name=config.get("name"), trainable=config.get("trainable", True))
        for entry in config.get("layers", []):
            layer_cls = (custom_objects or {}).get(entry["class_name"]) or layers_mod.get(entry["class_name"])
            layer_config = dict(entry["config"])
            if layer_cls is InputLayer:
                layer_config.pop("dtype", None)
                layer_config.pop("sparse", None)
                layer = InputLayer(**layer_config)
            else:
                layer = layer_cls.from_config(layer_config)
            model.add(layer, rebuild=False)
        if model._input_shape() is not None:
            model.build()
        return model

    # ---------------------------------------------------------------- files (Keras 3 formats; see convlite.saving)
    def save(self, filepath, overwrite=True):
        """Save as a Keras 3 ``.keras`` file (config, weights, optimizer state) that ``keras.saving.load_model``
        loads. Needs h5py: ``pip install "convlite[h5]"``."""
        from . import saving

        saving.save_model(self, filepath, overwrite=overwrite)

    def save_weights(self, filepath, overwrite=True):
        """Save the weights in Keras 3's ``.weights.h5`` layout (``keras.Model.load_weights`` reads it)."""
        from . import saving

        saving.save_weights(self, filepath, overwrite=overwrite)

    def load_weights(self, filepath):
        """Load weights from a ``.weights.h5`` or ``.keras`` file (convlite's or Keras 3's); on error the model is
        left unchanged."""
        from . import saving

        saving.load_weights(self, filepath)

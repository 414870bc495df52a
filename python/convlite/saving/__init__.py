"""Keras 3 model files without TensorFlow: `.keras` archives and `.weights.h5` weight files, both directions.

    convlite.saving.save_model(model, "m.keras")      # keras.saving.load_model("m.keras") loads it
    model = convlite.saving.load_model("m.keras")     # also files written by Keras 3
    convlite.saving.save_weights(model, "m.weights.h5")
    convlite.saving.load_weights(model, "m.weights.h5")  # or a .keras file

Files are data, never code: nothing is unpickled, evaluated or imported by a name from a file; zip entries are
read by name (never extracted); every class must be a built-in Keras class that convlite implements; every
weight's shape and dtype is checked against the model before any is read; a failed load leaves the model as it
was; a save writes only the path given (through a temporary file beside it, renamed when complete).
h5py is an optional extra: `pip install "convlite[h5]"`.
"""
from __future__ import annotations

import io
import json
import os
import warnings

import numpy as np

from . import _config, _h5, _model, _zip

__all__ = ["save_model", "load_model", "save_weights", "load_weights"]

_CONFIG = "config.json"
_METADATA = "metadata.json"
_WEIGHTS = "model.weights.h5"
_MAX_CONFIG_BYTES = 64 << 20
_MAX_METADATA_BYTES = 1 << 20
_H5_OVERHEAD_BYTES = 16 << 20


def _path(filepath) -> str:
    try:
        return os.fspath(filepath)
    except TypeError:
        raise TypeError(f"`filepath` must be a str or os.PathLike. Received: filepath={filepath!r}") from None


def _weights_budget(entries) -> int:
    """The most bytes a weights file for these layers can honestly need: float64 weights plus optimizer slots."""
    params = sum(int(np.prod(shape)) for entry in entries for shape in entry.arrays)
    return 8 * params * 4 + _H5_OVERHEAD_BYTES


# ----------------------------------------------------------------------------------------------- saving


def _weights_h5(model, target) -> None:
    optimizer = _model.optimizer_of(model)
    optimizer_entry = None
    if optimizer is not None:
        optimizer_entry = _h5.OptimizerEntry(_model.optimizer_name(optimizer), _model.optimizer_arrays(optimizer))
    _h5.write_weights(target, str(model.name), _model.layer_entries(model, with_weights=True), optimizer_entry)


def save_model(model, filepath, overwrite: bool = True) -> None:
    """Save `model` as a Keras 3 `.keras` file: config, weights and (when compiled) optimizer state."""
    _h5.require_h5py()
    path = _path(filepath)
    if not path.endswith(".keras"):
        raise ValueError(
            "Invalid filepath extension for saving. Please add a `.keras` extension (use save_weights for "
            f"`.weights.h5`). Received: filepath={path}"
        )
    if not overwrite and os.path.exists(path):
        raise FileExistsError(f"Not overwriting the existing file {path!r} (overwrite=False).")
    layers = _model.model_layers(model)
    shapes = _model.layer_input_shapes(model, layers)
    entries = [
        _config.layer_entry(_model.class_name(layer), _model.layer_config(layer), shape)
        for layer, shape in zip(layers, shapes)
    ]
    config = _config.model_config(str(model.name), _model.input_shape(model), entries, _model.compile_config(model),
                                  _model.input_name(model))
    weights = io.BytesIO()
    _weights_h5(model, weights)
    _zip.write_archive(path, {
        _METADATA: _config.metadata_json(),
        _CONFIG: json.dumps(config).encode(),
        _WEIGHTS: weights.getvalue(),
    })


def save_weights(model, filepath, overwrite: bool = True) -> None:
    """Save the weights (and optimizer state, when compiled) in Keras 3's `.weights.h5` layout."""
    _h5.require_h5py()
    path = _path(filepath)
    if not path.endswith(".weights.h5"):
        raise ValueError(f"The filename must end in `.weights.h5`. Received: filepath={path}")
    if not overwrite and os.path.exists(path):
        raise FileExistsError(f"Not overwriting the existing file {path!r} (overwrite=False).")
    _model.input_shape(model)  # a model that is not built has no weights to save: say so
    _zip.atomic_write(path, lambda temp_path: _weights_h5(model, temp_path))


# ----------------------------------------------------------------------------------------------- loading


def _read_state(model, source, build_optimizer: bool = False):
    """Validated layer weights and optimizer state (or None) for `model` from an h5 source; nothing assigned.

    With `build_optimizer` (a freshly loaded model), the optimizer's slots are created when the file holds
    more state than the unbuilt optimizer has, as Keras does on load; a file saved before any training step
    holds only iterations and learning_rate and loads into the unbuilt optimizer as it is.
    """
    entries = _model.layer_entries(model, with_weights=False)
    with _h5.WeightsReader(source) as reader:
        layer_arrays = reader.layer_weights(entries)
        optimizer_arrays = None
        optimizer = _model.optimizer_of(model)
        stored = reader.optimizer_size()
        if optimizer is not None and stored:
            specs = _model.optimizer_specs(optimizer)
            if build_optimizer and stored > len(specs):
                _model.ensure_optimizer_built(model)
                specs = _model.optimizer_specs(optimizer)
            if len(specs) == stored:
                optimizer_arrays = reader.optimizer_weights(_h5.OptimizerEntry(_model.optimizer_name(optimizer), specs))
            else:
                # Keras does the same: state from an optimizer that had not stepped yet cannot be matched up.
                warnings.warn(
                    f"Skipping the optimizer state in the file: it holds {stored} variables but the model's "
                    f"optimizer has {len(specs)}. This is likely because the optimizer has not been built yet: "
                    "call `model.optimizer.build(model.trainable_variables)` before `load_weights`, as in Keras "
                    "(or the saved model had not been trained).",
                    stacklevel=3,
                )
    return layer_arrays, optimizer_arrays


def _assign(model, layer_arrays, optimizer_arrays) -> None:
    for layer, arrays in zip(_model.model_layers(model), layer_arrays):
        if arrays:
            layer.set_weights(arrays)
    if optimizer_arrays is not None:
        _model.assign_optimizer(_model.optimizer_of(model), optimizer_arrays)


def _archive_weights(archive, model) -> io.BytesIO:
    budget = _weights_budget(_model.layer_entries(model, with_weights=False))
    return io.BytesIO(archive.read(_WEIGHTS, budget))


def load_weights(model, filepath) -> None:
    """Load weights saved by save_weights/save_model or by Keras 3 (`.weights.h5` or `.keras`) into `model`.

    Every shape and dtype is checked before anything is assigned: on any error the model is left unchanged.
    """
    _h5.require_h5py()
    path = _path(filepath)
    _model.input_shape(model, "loading weights into")
    if path.endswith(".keras"):
        with _zip.KerasArchive(path) as archive:
            source = _archive_weights(archive, model)
        state = _read_state(model, source)
    elif path.endswith(".weights.h5"):
        if not os.path.isfile(path):
            raise FileNotFoundError(f"No such weights file: {path!r}")
        state = _read_state(model, path)
    else:
        raise ValueError(f"The filename must end in `.weights.h5` or `.keras`. Received: filepath={path}")
    _assign(model, *state)


def load_model(filepath, custom_objects=None, compile: bool = True, safe_mode: bool = True):  # noqa: A002
    """Load a Sequential model from a `.keras` file written by convlite or by Keras 3.

    Layers are matched by Keras class name to convlite's; an unsupported layer is named in a ValueError.
    With `compile`, the saved compile config (optimizer, loss, metrics) and optimizer state are restored when
    convlite supports them; otherwise a warning says what was skipped and the model is returned uncompiled.
    `custom_objects` and `safe_mode` exist for Keras compatibility: convlite never loads custom classes and
    never deserializes code, whatever `safe_mode` says.
    """
    if custom_objects:
        raise ValueError(
            "convlite loads built-in Keras layers only and cannot use custom objects. "
            f"Received: custom_objects={custom_objects!r}"
        )
    _h5.require_h5py()
    path = _path(filepath)
    if os.path.isdir(path):
        raise ValueError(f"`filepath` must be a .keras file, not a directory (convlite does not read the "
                         f"SavedModel format). Received: filepath={path!r}")
    if not os.path.isfile(path):
        raise FileNotFoundError(f"No such file: {path!r}")
    with _zip.KerasArchive(path) as archive:
        names = archive.names()
        for required in (_CONFIG, _WEIGHTS):
            if required not in names:
                raise ValueError(f"Invalid .keras file: the entry '{required}' is missing. Received: entries={names}")
        if _METADATA in names:
            metadata = _config.parse_json(archive.read(_METADATA, _MAX_METADATA_BYTES), _METADATA)
            if not isinstance(metadata, dict):
                raise ValueError("Invalid .keras file: metadata.json must hold a JSON object.")
        spec = _config.parse_model_config(
            _config.parse_json(archive.read(_CONFIG, _MAX_CONFIG_BYTES), _CONFIG)
        )
        model = _model.build_sequential(spec)
        weights = _archive_weights(archive, model)
    if compile and spec.compile_config:
        try:
            _model.compile_from_config(model, spec.compile_config)
        except (TypeError, ValueError) as error:
            warnings.warn(
                f"The model was loaded uncompiled: its compile config cannot be restored ({error}). "
                "Call model.compile() yourself.",
                stacklevel=2,
            )
            model = _model.build_sequential(spec)
    _assign(model, *_read_state(model, weights, build_optimizer=True))
    return model

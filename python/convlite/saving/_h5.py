"""Keras 3's weights layout in HDF5, read and written with h5py.

Layout (what `keras.Model.save_weights` and the `model.weights.h5` member of a `.keras` zip hold):

    vars                                   empty group, attrs name=<model name>
    layers/<snake_case(Class)>[_k]/vars/<i>  one dataset per weight, in get_weights order; `_k` counts earlier
                                           layers of the same class in model order (never `layer.name`); layers
                                           without weights still get an empty `vars` group
    optimizer/vars/<i>                     optimizer.variables (iterations, learning_rate, then slots)

Reading is defensive: the caller states the exact shape of every weight it will accept, and each dataset is
checked (hard link, plain storage, float32/float64 dtype, that exact shape) before a single byte is read, so a
file can neither make us allocate more than the model holds nor reach outside itself (no soft/external links,
no external or virtual datasets).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Optional, Sequence

import numpy as np

_INSTALL_HINT = 'pip install "convlite[h5]"'


def require_h5py():
    """Import h5py, or explain how to get it: it is an optional extra of convlite."""
    try:
        import h5py
    except ImportError as error:  # pragma: no cover - h5py is installed in the test environment
        raise ImportError(
            "Reading and writing Keras model files (.keras, .weights.h5) needs h5py, an optional dependency of "
            f"convlite. Install it with: {_INSTALL_HINT}"
        ) from error
    return h5py


def to_snake_case(name: str) -> str:
    """Keras's `naming.to_snake_case`: Conv2D -> conv2d, LeakyReLU -> leaky_re_lu, MaxPooling1D -> max_pooling1d."""
    name = re.sub(r"\W+", "", name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    name = re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()
    return name


def layer_group_keys(class_names: Sequence[str]) -> list[str]:
    """The h5 group name of each layer: snake_case class name, then `_1`, `_2`, ... per class in model order."""
    used: dict[str, int] = {}
    keys = []
    for class_name in class_names:
        base = to_snake_case(class_name)
        if base in used:
            used[base] += 1
            keys.append(f"{base}_{used[base]}")
        else:
            used[base] = 0
            keys.append(base)
    return keys


@dataclass
class LayerEntry:
    """One layer as the file sees it: class (decides the group name), name (an attribute), weights or shapes."""

    class_name: str
    name: str
    arrays: list = field(default_factory=list)  # numpy arrays to write, or expected shapes (tuples) to read


@dataclass
class OptimizerEntry:
    name: str
    arrays: list = field(default_factory=list)  # arrays to write, or expected (shape, dtype) pairs to read


# ----------------------------------------------------------------------------------------------- writing


def write_weights(target, model_name: str, layers: Sequence[LayerEntry],
                  optimizer: Optional[OptimizerEntry] = None) -> None:
    """Write weights in Keras 3's layout to `target` (a path or a binary file object opened for writing)."""
    h5py = require_h5py()
    keys = layer_group_keys([entry.class_name for entry in layers])
    with h5py.File(target, "w") as f:
        f.create_group("vars").attrs["name"] = model_name
        layers_group = f.create_group("layers")
        for key, entry in zip(keys, layers):
            group = layers_group.create_group(key).create_group("vars")
            group.attrs["name"] = entry.name
            for index, array in enumerate(entry.arrays):
                group.create_dataset(str(index), data=np.asarray(array))
        if optimizer is not None:
            group = f.create_group("optimizer").create_group("vars")
            group.attrs["name"] = optimizer.name
            for index, array in enumerate(optimizer.arrays):
                group.create_dataset(str(index), data=np.asarray(array))


# ----------------------------------------------------------------------------------------------- reading


def _child(h5py, parent, name: str, path: str, want_group: bool):
    """parent[name] only if it is a hard link to the expected kind of object; None when absent."""
    if name not in parent:
        return None
    link = parent.get(name, getlink=True)
    if not isinstance(link, h5py.HardLink):
        raise ValueError(
            f"Invalid weights file: '{path}' is a {type(link).__name__}; only plain (hard-linked) groups and "
            "datasets are accepted, so a file cannot point outside itself."
        )
    obj = parent[name]
    kind = h5py.Group if want_group else h5py.Dataset
    if not isinstance(obj, kind):
        raise ValueError(
            f"Invalid weights file: '{path}' should be an HDF5 {kind.__name__}. Received: {type(obj).__name__}"
        )
    return obj


def _vars_group(h5py, f, path: str):
    """The `vars` group under `path` ('' for the model itself), following only hard links; None when absent."""
    node = f
    walked = []
    for part in [p for p in path.split("/") if p] + ["vars"]:
        walked.append(part)
        node = _child(h5py, node, part, "/".join(walked), want_group=True)
        if node is None:
            return None
    return node


def _check_dataset(dataset, path: str, shape: tuple, integer: bool):
    if dataset.external:
        raise ValueError(f"Invalid weights file: dataset '{path}' stores its data in an external file.")
    if dataset.is_virtual:
        raise ValueError(f"Invalid weights file: dataset '{path}' is a virtual dataset.")
    dtype = dataset.dtype
    if integer:
        if dtype.kind not in "iu" or dtype.itemsize > 8:
            raise ValueError(
                f"Invalid weights file: dataset '{path}' should hold an integer counter. Received: dtype={dtype}"
            )
    elif dtype not in (np.dtype("<f4"), np.dtype(">f4"), np.dtype("<f8"), np.dtype(">f8")):
        raise ValueError(
            f"Invalid weights file: weights must be float32 or float64, but dataset '{path}' has dtype {dtype}. "
            f"Received: dtype={dtype}"
        )
    if dataset.shape is None:  # an HDF5 "null" dataspace: no array at all
        raise ValueError(f"Invalid weights file: dataset '{path}' is empty (null dataspace), not an array.")
    if tuple(dataset.shape) != tuple(shape):
        raise ValueError(
            f"Invalid weights file: dataset '{path}' has shape {tuple(dataset.shape)} but the model expects "
            f"{tuple(shape)}. Received: shape={tuple(dataset.shape)}"
        )


class WeightsReader:
    """An open weights file, read only through checks: `with WeightsReader(path_or_fileobj) as reader: ...`."""

    def __init__(self, source):
        self._h5py = require_h5py()
        try:
            self._file = self._h5py.File(source, "r")
        except OSError as error:
            raise ValueError(f"Invalid weights file: not a readable HDF5 file ({error}).") from error

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._file.close()

    def layer_weights(self, layers: Sequence[LayerEntry], strict: bool = True) -> list:
        """Arrays for each entry (whose `arrays` are the expected shapes), all validated before any is read.

        With `strict`, a layer group holding weights that the model lacks is an error: the file was saved from
        a different model, which is better said than silently ignored.
        """
        h5py, f = self._h5py, self._file
        keys = layer_group_keys([entry.class_name for entry in layers])
        checked = []
        for key, entry in zip(keys, layers):
            path = f"layers/{key}/vars"
            group = _vars_group(h5py, f, f"layers/{key}")
            what = f"layer '{entry.name}' ({entry.class_name})"
            if group is None:
                if entry.arrays:
                    raise ValueError(f"Invalid weights file: no weights for {what}: the group '{path}' is missing.")
                checked.append([])
                continue
            checked.append(_check_group(h5py, group, path, entry.arrays, what))
        if strict:
            _reject_unknown_layers(h5py, f, set(keys))
        # Only now, with every dataset known to be what the model holds, read the data.
        return [[_read(dataset, dtype) for dataset, dtype in group] for group in checked]

    def optimizer_size(self) -> int:
        """How many variables the file's optimizer state holds (0 when it has none)."""
        group = _vars_group(self._h5py, self._file, "optimizer")
        return 0 if group is None else len(group.keys())

    def optimizer_weights(self, optimizer: OptimizerEntry) -> list:
        """The optimizer's variables; `optimizer.arrays` holds (shape, dtype) specs in optimizer.variables order."""
        group = _vars_group(self._h5py, self._file, "optimizer")
        if group is None:
            raise ValueError("Invalid weights file: it holds no optimizer state ('optimizer/vars' is missing).")
        checked = _check_group(self._h5py, group, "optimizer/vars", optimizer.arrays, f"optimizer '{optimizer.name}'")
        return [_read(dataset, dtype) for dataset, dtype in checked]


def _check_group(h5py, group, path: str, specs: Sequence, what: str) -> list:
    """Datasets '0'..'n-1' of `group`, each checked against its spec; returns (dataset, dtype) pairs unread.

    A spec is a shape (float weights, read as float32) or a (shape, dtype) pair (an integer dtype accepts only
    integer datasets, a float dtype only float32/float64).
    """
    expected = [str(i) for i in range(len(specs))]
    present = sorted(group.keys(), key=lambda k: (len(k), k))
    if present != expected:
        raise ValueError(
            f"Invalid weights file: {what} has {len(specs)} weights, so '{path}' should hold datasets "
            f"{expected}. Received: {present}"
        )
    checked = []
    for key, spec in zip(expected, specs):
        if isinstance(spec, tuple) and len(spec) == 2 and isinstance(spec[1], np.dtype):
            shape, dtype = spec
        else:
            shape, dtype = tuple(spec), np.dtype(np.float32)
        dataset = _child(h5py, group, key, f"{path}/{key}", want_group=False)
        _check_dataset(dataset, f"{path}/{key}", shape, integer=dtype.kind in "iu")
        checked.append((dataset, dtype))
    return checked


def _read(dataset, dtype) -> np.ndarray:
    try:
        return np.array(dataset[()], dtype=dtype).reshape(dataset.shape)
    except (OSError, TypeError, ValueError) as error:  # corrupt chunks, a filter that is not available, ...
        raise ValueError(f"Invalid weights file: dataset '{dataset.name}' cannot be read: {error}") from error


def _reject_unknown_layers(h5py, f, known: set) -> None:
    layers_group = _child(h5py, f, "layers", "layers", want_group=True)
    if layers_group is None:
        return
    for key in layers_group.keys():
        if key in known:
            continue
        group = _vars_group(h5py, f, f"layers/{key}")
        if group is not None and len(group.keys()) > 0:
            raise ValueError(
                f"Invalid weights file: it holds weights for a layer group 'layers/{key}' that the model does not "
                f"have (model groups: {sorted(known)}). The file was saved from a different model."
            )

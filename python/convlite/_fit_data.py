"""Input checking and preparation for Sequential's fit / evaluate / predict (Keras-style errors).

Everything here runs once per call, never per batch: arrays are cast to C-contiguous float32 once, labels are
checked against the loss once, and the C++ step then gathers each batch's rows by index.
"""
from __future__ import annotations

import math

import numpy as np


def as_float_array(value, name):
    """A C-contiguous float32 copy/view of numeric data; TypeError for strings/objects, ValueError for None."""
    if value is None:
        raise ValueError(f"Argument `{name}` must be provided (a numpy array). Received: {name}=None")
    if isinstance(value, (list, tuple)) and len(value) == 1 and isinstance(value[0], np.ndarray):
        value = value[0]
    try:
        arr = np.asarray(value)
    except ValueError as err:
        raise ValueError(f"Argument `{name}` must be a rectangular numeric array. Received: {name} ({err})") from None
    if arr.dtype == object or arr.dtype.kind in "USVmMc":
        raise TypeError(f"Argument `{name}` must contain numbers (float or int). "
                        f"Received: {name}.dtype={arr.dtype}")
    return np.ascontiguousarray(arr, dtype=np.float32)


def check_input(x, input_shape, model_name):
    """x (N, *input_shape) float32; Keras's incompatible-shape message otherwise."""
    x = as_float_array(x, "x")
    if x.ndim == 0 or x.shape[0] == 0:
        raise ValueError(f"Expected input data to be non-empty (at least one sample). Received: x.shape={x.shape}")
    if input_shape is not None and tuple(x.shape[1:]) != tuple(input_shape) and not _fits(x.shape[1:], input_shape):
        expected = (None,) + tuple(input_shape)
        if len(x.shape) == len(expected) and 0 in x.shape[1:]:  # an empty axis where the size is open
            raise ValueError(f'Input 0 of layer "{model_name}" needs a positive size on every axis (expected '
                             f"shape={expected}). Received: x.shape={x.shape}")
        raise ValueError(
            f'Input 0 of layer "{model_name}" is incompatible with the layer: expected shape={expected}, '
            f"found shape={x.shape}"
        )
    return x


def _fits(shape, input_shape):
    """x's per-sample shape against the model's: same rank, known sizes equal, None (unknown) takes any positive
    size (an empty axis would give the compiled model nothing to convolve)."""
    if len(shape) != len(input_shape):
        return False
    return all(d > 0 if want is None else d == want for d, want in zip(shape, input_shape))


def check_cardinality(n, **arrays):
    sizes = {k: len(v) for k, v in arrays.items() if v is not None}
    if any(s != n for s in sizes.values()):
        text = "\n".join(f"'{k}' sizes: {s}" for k, s in {"x": n, **sizes}.items())
        raise ValueError(f"Data cardinality is ambiguous. Make sure all arrays contain the same number of samples.\n"
                         f"{text}")


def prepare_labels(y, n, loss_kind, output_shape):
    """(N, label_size) float32 labels checked against the loss and the model's output shape (batch excluded)."""
    y = as_float_array(y, "y")
    if y.ndim == 0:
        raise ValueError(f"Argument `y` must have one label per sample. Received: y.shape={y.shape}")
    check_cardinality(n, y=y)
    out_size = int(np.prod(output_shape))
    if loss_kind == "sparse_categorical_crossentropy":
        if y.size != n:
            raise ValueError(
                f"Argument `y` for sparse_categorical_crossentropy must hold one integer class index per sample "
                f"(shape (N,) or (N, 1)); use categorical_crossentropy for one-hot labels. "
                f"Received: y.shape={y.shape}, output.shape={(None,) + tuple(output_shape)}")
        classes = output_shape[-1]
        flat = y.reshape(n)
        whole = np.isfinite(flat) & (flat == np.round(flat))
        if not whole.all():
            value = flat[np.argmax(~whole)]
            raise ValueError(f"Argument `y` for sparse_categorical_crossentropy must hold integer class indices; "
                             f"found the label value {value:g}. Received: y={value:g}")
        bad = (flat < 0) | (flat >= classes)
        if bad.any():
            value = flat[np.argmax(bad)]
            raise ValueError(f"Received a label value of {value:g} which is outside the valid range of "
                             f"[0, {classes}) (labels must be integer class indices). Received: y={value:g}")
        return np.ascontiguousarray(flat.reshape(n, 1))
    if tuple(y.shape[1:]) == tuple(output_shape) or (y.ndim == 1 and out_size == 1) or \
            (tuple(y.shape[1:]) + (1,) == tuple(output_shape)):
        return np.ascontiguousarray(y.reshape(n, out_size))
    raise ValueError(f"Arguments `target` and `output` must have the same shape. "
                     f"Received: target.shape={y.shape}, output.shape={(None,) + tuple(output_shape)}")


def prepare_sample_weight(sample_weight, class_weight, y, n, loss_kind):
    """(N,) float32 weights from sample_weight or class_weight (Keras forbids both), or None."""
    if class_weight is not None and sample_weight is not None:
        raise ValueError("You cannot `class_weight` and `sample_weight` at the same time.")
    if sample_weight is not None:
        w = as_float_array(sample_weight, "sample_weight")
        if w.ndim != 1 and not (w.ndim == 2 and w.shape[1] == 1):
            raise ValueError(f"`sample_weight` must have one value per sample. Received: "
                             f"sample_weight.shape={w.shape}")
        check_cardinality(n, sample_weight=w)
        return np.ascontiguousarray(w.reshape(n))
    if class_weight is None:
        return None
    if not isinstance(class_weight, dict):
        raise ValueError(f"`class_weight` must be a dict mapping class index to weight. "
                         f"Received: class_weight={class_weight!r}")
    if y.shape[1] > 1:
        classes = np.argmax(y, axis=1)
    else:
        classes = np.round(y[:, 0]).astype(np.int64)
    table = {int(k): float(v) for k, v in class_weight.items()}
    # Keras 3 (class_weight_to_sample_weights): a class missing from the dict weighs 1.0 (Keras 2 refused it).
    return np.array([table.get(int(c), 1.0) for c in classes], dtype=np.float32)


def check_batch_size(batch_size, default=32):
    if batch_size is None:
        return default
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size <= 0:
        raise ValueError(f"Argument `batch_size` must be a positive integer. Received: batch_size={batch_size!r}")
    return int(batch_size)


def check_verbose(verbose):
    if verbose == "auto":
        return 1
    if verbose not in (0, 1, 2):
        raise ValueError(f"Argument `verbose` must be 'auto', 0, 1 or 2. Received: verbose={verbose!r}")
    return int(verbose)


def split_validation(arrays, validation_split):
    """Keras's train_validation_split: the last part (before any shuffling) becomes validation data."""
    if isinstance(validation_split, bool) or not isinstance(validation_split, (int, float)) or \
            not 0 <= validation_split < 1:
        raise ValueError(f"`validation_split` must be a float in [0, 1). Received: validation_split={validation_split}")
    n = len(arrays[0])
    split_at = int(math.floor(n * (1.0 - validation_split)))
    if split_at == 0 or split_at == n:
        raise ValueError(
            f"Training data contains {n} samples, which is not sufficient to split it into a validation and "
            f"training set as specified by `validation_split={validation_split}`. Either provide more data, or a "
            f"different value for the `validation_split` argument.")
    train = [None if a is None else a[:split_at] for a in arrays]
    val = [None if a is None else a[split_at:] for a in arrays]
    return train, val


def unpack_validation_data(validation_data):
    if not isinstance(validation_data, (tuple, list)) or len(validation_data) not in (2, 3):
        raise ValueError(f"`validation_data` must be a tuple (x_val, y_val) or (x_val, y_val, val_sample_weight). "
                         f"Received: validation_data of type {type(validation_data).__name__}")
    x, y = validation_data[0], validation_data[1]
    sw = validation_data[2] if len(validation_data) == 3 else None
    return x, y, sw

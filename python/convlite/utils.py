"""Utilities shaped like ``keras.utils``: the global random seed, ``to_categorical``, ``pad_sequences``,
``normalize``, ``Progbar``.

Randomness in convlite flows from one numpy ``Generator`` (``global_rng()``): unseeded initializers, the
per-epoch shuffle and the seeds handed to dropout layers all draw from it, in program order. So after
``set_random_seed(s)`` a program does the same draws every run and two runs are bit-identical (the C++ kernels
reduce in a fixed order for any thread count). Like Keras, ``set_random_seed`` also seeds Python's ``random``
and ``numpy.random``, so user code that relies on those is reproducible too.
"""
from __future__ import annotations

import random as _python_random

import numpy as np

from ._progbar import Progbar

__all__ = [
    "Progbar",
    "get_random_seed",
    "global_rng",
    "next_seed",
    "normalize",
    "pad_sequences",
    "set_random_seed",
    "to_categorical",
]

_global_seed: int | None = None
_global_rng: np.random.Generator | None = None


def set_random_seed(seed):
    """Seed Python's ``random``, ``numpy.random`` and convlite's global generator (as ``keras.utils.set_random_seed``).

    Args:
        seed: a Python integer.
    """
    global _global_seed, _global_rng
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise ValueError(
            "Expected `seed` argument to be an integer. "
            f"Received: seed={seed} (of type {type(seed)})"
        )
    seed = int(seed)
    _global_seed = seed
    _python_random.seed(seed)
    # numpy's legacy global state only takes seeds in [0, 2**32); Keras passes the seed straight through and
    # numpy rejects negatives, so do the same (same error numpy raises for Keras users).
    np.random.seed(seed)
    _global_rng = np.random.default_rng(seed)


def get_random_seed():
    """The integer passed to the last ``set_random_seed`` call, or None if it was never called."""
    return _global_seed


def global_rng() -> np.random.Generator:
    """The generator every seedless random draw in convlite uses (created from OS entropy until seeded)."""
    global _global_rng
    if _global_rng is None:
        _global_rng = np.random.default_rng()
    return _global_rng


def next_seed() -> int:
    """Draw an integer seed from the global generator (for layers that need their own stream, e.g. dropout)."""
    # Same range as Keras's make_default_seed (random.randint(1, int(1e9))).
    return int(global_rng().integers(1, 10**9, endpoint=True))


def to_categorical(x, num_classes=None):
    """Convert a class vector (integers) to a binary class matrix, exactly as ``keras.utils.to_categorical``.

    A trailing axis of size 1 is dropped first, so labels of shape ``(n, 1)`` give ``(n, num_classes)``.
    Returns float64, as Keras does for numpy input.
    """
    x = np.array(x, dtype="int64")
    input_shape = x.shape
    if input_shape and input_shape[-1] == 1 and len(input_shape) > 1:
        input_shape = tuple(input_shape[:-1])
    x = x.reshape(-1)
    if not num_classes:
        if x.size == 0:
            raise ValueError(
                "Cannot infer `num_classes` from an empty array. Pass `num_classes`. "
                f"Received: x with shape {input_shape}"
            )
        num_classes = int(np.max(x)) + 1
    if x.size and (x.min() < 0 or x.max() >= num_classes):
        raise ValueError(
            f"Class indices must be in [0, num_classes). Received: num_classes={num_classes}, "
            f"labels in [{int(x.min())}, {int(x.max())}]"
        )
    categorical = np.zeros((x.shape[0], num_classes))
    categorical[np.arange(x.shape[0]), x] = 1
    return categorical.reshape(input_shape + (num_classes,))


def normalize(x, axis=-1, order=2):
    """``keras.utils.normalize``: x divided by its `order`-norm along `axis` (a zero norm divides by 1). axis=0
    normalizes along the first axis (Keras's own turns 0 into -1 and fails to broadcast)."""
    x = np.asarray(x)
    norm = np.atleast_1d(np.linalg.norm(x, order, axis))
    norm[norm == 0] = 1
    return x / np.expand_dims(norm, axis if axis is not None else -1)


def pad_sequences(sequences, maxlen=None, dtype="int32", padding="pre", truncating="pre", value=0.0):
    """``keras.utils.pad_sequences``: a list of sequences (each (steps,) or (steps, features...)) as one array of
    shape (len(sequences), maxlen, features...), padded with `value` and cut to `maxlen` at the start ("pre") or the
    end ("post"). For time series of different lengths, e.g. ``pad_sequences(recordings, dtype="float32",
    padding="post")`` gives the (samples, steps, channels) array a Conv1D model trains on.
    """
    for name, given in (("padding", padding), ("truncating", truncating)):
        if given not in ("pre", "post"):
            raise ValueError(f'{name.capitalize()} type "{given}" not understood: expected "pre" or "post". '
                             f"Received: {name}={given!r}")
    if not hasattr(sequences, "__len__") or isinstance(sequences, (str, bytes)):
        raise ValueError(f"`sequences` must be a list of sequences. Received: sequences of type "
                         f"{type(sequences).__name__}")
    lengths, sample_shape = [], None
    for position, sequence in enumerate(sequences):
        try:
            lengths.append(len(sequence))
        except TypeError:
            raise ValueError(f"`sequences` must be a list of iterables. Found non-iterable at position {position}: "
                             f"{sequence!r}") from None
        if sample_shape is None and len(sequence):
            sample_shape = np.asarray(sequence).shape[1:]
    sample_shape = sample_shape or ()
    if maxlen is None:
        if not lengths:
            raise ValueError("Cannot infer `maxlen` from an empty list of sequences. Pass `maxlen`. "
                             "Received: sequences=[]")
        maxlen = max(lengths)
    if isinstance(maxlen, bool) or not isinstance(maxlen, (int, np.integer)) or maxlen < 0:
        raise ValueError(f"Argument `maxlen` must be a non-negative integer or None. Received: maxlen={maxlen!r}")
    if isinstance(value, str) and dtype is not object and not np.issubdtype(dtype, np.character):
        raise ValueError(f"`dtype` {dtype} is not compatible with `value`'s type: {type(value)}\n"
                         "You should set `dtype=object` for variable length strings.")
    out = np.full((len(lengths), int(maxlen)) + tuple(sample_shape), value, dtype=dtype)
    for position, sequence in enumerate(sequences):
        if not len(sequence) or not maxlen:
            continue
        kept = np.asarray(sequence[-maxlen:] if truncating == "pre" else sequence[:maxlen], dtype=dtype)
        if kept.shape[1:] != tuple(sample_shape):
            raise ValueError(f"Shape of sample {kept.shape[1:]} of sequence at position {position} is different "
                             f"from expected shape {tuple(sample_shape)}")
        if padding == "post":
            out[position, :len(kept)] = kept
        else:
            out[position, maxlen - len(kept):] = kept
    return out

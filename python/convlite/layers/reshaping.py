"""Flatten, Reshape, ZeroPadding1D/2D, UpSampling1D/2D."""
from __future__ import annotations

from .base import Layer, check_data_format, check_rank, prod, spatial_of, standardize_tuple


class Flatten(Layer):
    """``keras.layers.Flatten``: NHWC flattens row-major (h, w, c), a free view in the compiled model."""

    def __init__(self, data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.data_format = check_data_format(data_format)

    def compute_output_shape(self, input_shape):
        if any(d is None for d in input_shape[1:]):  # Keras: the flat size is unknown too
            return (input_shape[0], None)
        return (input_shape[0], prod(input_shape[1:]))

    def _emit(self, core, input_shape):
        core.add_view(prod(input_shape[1:]))

    def get_config(self):
        return {**super().get_config(), "data_format": self.data_format}


class Reshape(Layer):
    """``keras.layers.Reshape(target_shape)``, one dimension may be -1."""

    def __init__(self, target_shape, **kwargs):
        super().__init__(**kwargs)
        try:
            self.target_shape = tuple(int(d) for d in target_shape)
        except (TypeError, ValueError):
            raise ValueError(f"Argument `target_shape` must be a tuple of integers. Received: "
                             f"target_shape={target_shape!r}") from None
        if sum(d == -1 for d in self.target_shape) > 1 or any(d == 0 or d < -1 for d in self.target_shape):
            raise ValueError(f"Argument `target_shape` must have positive dimensions and at most one -1. "
                             f"Received: target_shape={target_shape}")

    def compute_output_shape(self, input_shape):
        if any(d is None for d in input_shape[1:]):  # Keras: the -1 entry is unknown; checked on the data
            return (input_shape[0],) + tuple(None if d == -1 else d for d in self.target_shape)
        total = prod(input_shape[1:])
        known = prod(d for d in self.target_shape if d != -1)
        shape = tuple(total // known if d == -1 else d for d in self.target_shape)
        if prod(shape) != total:
            raise ValueError(f"total size of new array must be unchanged, input_shape = {list(input_shape[1:])}, "
                             f"output_shape = {list(self.target_shape)}. Received: target_shape={self.target_shape}")
        return (input_shape[0],) + shape

    def _emit(self, core, input_shape):
        self.compute_output_shape(input_shape)
        core.add_view(prod(input_shape[1:]))

    def get_config(self):
        return {**super().get_config(), "target_shape": self.target_shape}


def _pad_pairs(padding, rank):
    if isinstance(padding, int) and not isinstance(padding, bool):
        if padding < 0:
            raise ValueError(f"`padding` must be non-negative. Received: padding={padding}")
        return ((padding, padding),) * rank
    try:
        items = tuple(padding)
    except TypeError:
        raise ValueError(f"`padding` should be an int or a tuple. Received: padding={padding!r}") from None
    if rank == 1 and len(items) == 2 and all(isinstance(i, int) for i in items):
        return (standardize_tuple(items, 2, "padding", allow_zero=True),)
    if len(items) != rank:
        raise ValueError(f"`padding` should have {rank} elements. Received: padding={padding}")
    return tuple(standardize_tuple(i, 2, "padding", allow_zero=True) for i in items)


def _plus(size, extra):
    """A spatial size plus padding; an unknown (None) size stays unknown."""
    return None if size is None else size + extra


def _times(size, factor):
    return None if size is None else size * factor


class _ZeroPadding(Layer):
    rank = 2

    def __init__(self, padding, data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.padding = _pad_pairs(padding, self.rank)
        self.data_format = check_data_format(data_format)

    def _pads(self):
        if self.rank == 1:
            return (0, 0) + self.padding[0]
        return self.padding[0] + self.padding[1]

    def compute_output_shape(self, input_shape):
        check_rank(self, input_shape, self.rank + 2)
        t, b, l, r = self._pads()
        if self.rank == 1:
            return (input_shape[0], _plus(input_shape[1], l + r), input_shape[2])
        return (input_shape[0], _plus(input_shape[1], t + b), _plus(input_shape[2], l + r), input_shape[3])

    def _emit(self, core, input_shape):
        check_rank(self, input_shape, self.rank + 2)
        h, w, c = spatial_of(input_shape)
        core.add_zero_pad(h, w, c, *self._pads())

    def get_config(self):
        padding = self.padding[0] if self.rank == 1 else self.padding
        return {**super().get_config(), "padding": padding, "data_format": self.data_format}


class ZeroPadding1D(_ZeroPadding):
    rank = 1

    def __init__(self, padding=1, **kwargs):
        kwargs.pop("data_format", None)
        super().__init__(padding, **kwargs)

    def get_config(self):
        config = super().get_config()
        config.pop("data_format")
        return config


class ZeroPadding2D(_ZeroPadding):
    def __init__(self, padding=(1, 1), data_format=None, **kwargs):
        super().__init__(padding, data_format, **kwargs)


class UpSampling1D(Layer):
    """``keras.layers.UpSampling1D(size=2)``: repeats each step ``size`` times."""

    def __init__(self, size=2, **kwargs):
        super().__init__(**kwargs)
        self.size = standardize_tuple(size, 1, "size")[0]

    def compute_output_shape(self, input_shape):
        check_rank(self, input_shape, 3)
        return (input_shape[0], _times(input_shape[1], self.size), input_shape[2])

    def _emit(self, core, input_shape):
        check_rank(self, input_shape, 3)
        core.add_upsample(1, input_shape[1], input_shape[2], 1, self.size)

    def get_config(self):
        return {**super().get_config(), "size": self.size}


class UpSampling2D(Layer):
    """``keras.layers.UpSampling2D(size=(2, 2), interpolation='nearest')``."""

    def __init__(self, size=(2, 2), data_format=None, interpolation="nearest", **kwargs):
        super().__init__(**kwargs)
        self.size = standardize_tuple(size, 2, "size")
        self.data_format = check_data_format(data_format)
        if interpolation != "nearest":
            raise ValueError(f"convlite's UpSampling2D supports interpolation='nearest' only. "
                             f"Received: interpolation={interpolation}")
        self.interpolation = interpolation

    def compute_output_shape(self, input_shape):
        check_rank(self, input_shape, 4)
        return (input_shape[0], _times(input_shape[1], self.size[0]), _times(input_shape[2], self.size[1]),
                input_shape[3])

    def _emit(self, core, input_shape):
        check_rank(self, input_shape, 4)
        core.add_upsample(input_shape[1], input_shape[2], input_shape[3], *self.size)

    def get_config(self):
        return {**super().get_config(), "size": self.size, "data_format": self.data_format,
                "interpolation": self.interpolation}

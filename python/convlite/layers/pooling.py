"""Pooling layers: Max/AveragePooling1D/2D (and MaxPool*/AvgPool* aliases), Global{Average,Max}Pooling1D/2D.

Keras semantics: ``strides=None`` means the pool size; ``same`` pads like conv; max ignores padded cells and
average leaves them out of the divisor. 1D pooling runs the 2D kernels with height 1.
"""
from __future__ import annotations

from .base import Layer, check_data_format, check_rank, prod, spatial_of, standardize_tuple
from .conv import normalize_padding, output_sizes, resolve_padding

MAX, AVERAGE = 0, 1


class BasePooling(Layer):
    mode = MAX

    def __init__(self, rank, pool_size, strides=None, padding="valid", data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.rank = rank
        if pool_size is None:
            raise ValueError(f"Argument `pool_size` of {type(self).__name__} is required. Received: pool_size=None")
        self.pool_size = standardize_tuple(pool_size, rank, "pool_size")
        self.strides = self.pool_size if strides is None else standardize_tuple(strides, rank, "strides")
        padding_value = padding.lower() if isinstance(padding, str) else padding
        if isinstance(padding_value, str) and padding_value not in ("valid", "same"):
            raise ValueError(f"The `padding` argument must be one of ['valid', 'same'] (or explicit per-side sizes). "
                             f"Received: padding={padding!r}")
        self.padding = normalize_padding(padding, rank, False, self.name)
        self.data_format = check_data_format(data_format)

    def _geometry(self, input_shape):
        check_rank(self, input_shape, self.rank + 2)
        h, w, c = spatial_of(input_shape)
        k = (1,) * (2 - self.rank) + self.pool_size
        s = (1,) * (2 - self.rank) + self.strides
        pad = self.padding
        if isinstance(pad, tuple) and self.rank == 1:
            pad = ((0, 0),) + pad
        if self.rank == 1:
            top, bottom, oh = 0, 0, 1
        else:
            top, bottom, oh = resolve_padding(pad, h, k[0], s[0], 1, 0, self.name)
        left, right, ow = resolve_padding(pad, w, k[1], s[1], 1, 1, self.name)
        return dict(in_h=h, in_w=w, channels=c, out_h=oh, out_w=ow, pool_h=k[0], pool_w=k[1], stride_h=s[0],
                    stride_w=s[1], pad_top=top, pad_bottom=bottom, pad_left=left, pad_right=right)

    def _window(self):
        return self.pool_size

    def compute_output_shape(self, input_shape):
        check_rank(self, input_shape, self.rank + 2)
        return (input_shape[0],) + output_sizes(self, input_shape, (1,) * self.rank) + (input_shape[-1],)

    def _emit(self, core, input_shape):
        core.add_pool2d(self.mode, self._geometry(input_shape))

    def _flops(self, input_shape):
        return prod(self.compute_output_shape(input_shape)[1:]) * prod(self.pool_size)

    def get_config(self):
        padding = self.padding if isinstance(self.padding, str) else [list(p) for p in self.padding]
        return {**super().get_config(), "pool_size": self.pool_size, "strides": self.strides, "padding": padding,
                "data_format": self.data_format}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config.pop("dtype", None)
        if isinstance(config.get("padding"), list):
            config["padding"] = tuple(tuple(p) for p in config["padding"])
        return cls(**config)


class MaxPooling1D(BasePooling):
    def __init__(self, pool_size=2, strides=None, padding="valid", data_format=None, **kwargs):
        super().__init__(1, pool_size, strides, padding, data_format, **kwargs)


class MaxPooling2D(BasePooling):
    def __init__(self, pool_size=(2, 2), strides=None, padding="valid", data_format=None, **kwargs):
        super().__init__(2, pool_size, strides, padding, data_format, **kwargs)


class AveragePooling1D(BasePooling):
    mode = AVERAGE

    def __init__(self, pool_size, strides=None, padding="valid", data_format=None, **kwargs):
        super().__init__(1, pool_size, strides, padding, data_format, **kwargs)


class AveragePooling2D(BasePooling):
    mode = AVERAGE

    def __init__(self, pool_size, strides=None, padding="valid", data_format=None, **kwargs):
        super().__init__(2, pool_size, strides, padding, data_format, **kwargs)


class BaseGlobalPooling(Layer):
    mode = MAX

    def __init__(self, rank, data_format=None, keepdims=False, **kwargs):
        super().__init__(**kwargs)
        self.rank = rank
        self.data_format = check_data_format(data_format)
        self.keepdims = bool(keepdims)

    def compute_output_shape(self, input_shape):
        check_rank(self, input_shape, self.rank + 2)
        if self.keepdims:
            return (input_shape[0],) + (1,) * self.rank + (input_shape[-1],)
        return (input_shape[0], input_shape[-1])

    def _emit(self, core, input_shape):
        check_rank(self, input_shape, self.rank + 2)
        core.add_global_pool(self.mode, prod(input_shape[1:-1]), input_shape[-1])

    def _flops(self, input_shape):
        return prod(input_shape[1:])

    def get_config(self):
        return {**super().get_config(), "data_format": self.data_format, "keepdims": self.keepdims}


class GlobalMaxPooling1D(BaseGlobalPooling):
    def __init__(self, data_format=None, keepdims=False, **kwargs):
        super().__init__(1, data_format, keepdims, **kwargs)


class GlobalMaxPooling2D(BaseGlobalPooling):
    def __init__(self, data_format=None, keepdims=False, **kwargs):
        super().__init__(2, data_format, keepdims, **kwargs)


class GlobalAveragePooling1D(BaseGlobalPooling):
    mode = AVERAGE

    def __init__(self, data_format=None, keepdims=False, **kwargs):
        super().__init__(1, data_format, keepdims, **kwargs)


class GlobalAveragePooling2D(BaseGlobalPooling):
    mode = AVERAGE

    def __init__(self, data_format=None, keepdims=False, **kwargs):
        super().__init__(2, data_format, keepdims, **kwargs)


MaxPool1D = MaxPooling1D
MaxPool2D = MaxPooling2D
AvgPool1D = AveragePooling1D
AvgPool2D = AveragePooling2D
GlobalMaxPool1D = GlobalMaxPooling1D
GlobalMaxPool2D = GlobalMaxPooling2D
GlobalAvgPool1D = GlobalAveragePooling1D
GlobalAvgPool2D = GlobalAveragePooling2D

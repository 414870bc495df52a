"""Keras-named layers (``convlite.layers``), compiled into the C++ model by ``convlite.Sequential``."""
from .activation import ELU, Activation, LeakyReLU, ReLU, Softmax
from .base import Layer, Variable
from .conv import (
    Conv1D, Conv2D, Convolution1D, Convolution2D, DepthwiseConv1D, DepthwiseConv2D, SeparableConv1D,
    SeparableConv2D, SeparableConvolution1D, SeparableConvolution2D,
)
from .core import Dense, Input, InputLayer
from .noise import GaussianDropout, GaussianNoise, Rescaling
from .normalization import BatchNormalization
from .pooling import (
    AveragePooling1D, AveragePooling2D, AvgPool1D, AvgPool2D, GlobalAveragePooling1D, GlobalAveragePooling2D,
    GlobalAvgPool1D, GlobalAvgPool2D, GlobalMaxPool1D, GlobalMaxPool2D, GlobalMaxPooling1D, GlobalMaxPooling2D,
    MaxPool1D, MaxPool2D, MaxPooling1D, MaxPooling2D,
)
from .regularization import Dropout, SpatialDropout1D, SpatialDropout2D
from .reshaping import Flatten, Reshape, UpSampling1D, UpSampling2D, ZeroPadding1D, ZeroPadding2D

__all__ = [
    "Activation", "AveragePooling1D", "AveragePooling2D", "AvgPool1D", "AvgPool2D", "BatchNormalization",
    "Conv1D", "Conv2D", "Convolution1D", "Convolution2D", "Dense", "DepthwiseConv1D", "DepthwiseConv2D", "Dropout",
    "ELU", "Flatten", "GaussianDropout", "GaussianNoise", "GlobalAveragePooling1D", "GlobalAveragePooling2D",
    "GlobalAvgPool1D", "GlobalAvgPool2D", "GlobalMaxPool1D", "GlobalMaxPool2D", "GlobalMaxPooling1D",
    "GlobalMaxPooling2D", "Input", "InputLayer", "Layer", "LeakyReLU", "MaxPool1D", "MaxPool2D", "MaxPooling1D",
    "MaxPooling2D", "ReLU", "Rescaling", "Reshape", "SeparableConv1D", "SeparableConv2D", "SeparableConvolution1D",
    "SeparableConvolution2D", "Softmax", "SpatialDropout1D", "SpatialDropout2D", "UpSampling1D", "UpSampling2D",
    "Variable", "ZeroPadding1D", "ZeroPadding2D",
]


def get(identifier):
    """A layer class by Keras name (used by Sequential.from_config)."""
    cls = globals().get(identifier) if isinstance(identifier, str) else None
    if cls is None or not isinstance(cls, type) or not issubclass(cls, Layer):
        allowed = sorted(n for n in __all__ if n not in ("Input", "Layer", "Variable"))
        raise ValueError(f"Unknown layer: '{identifier}'. Allowed layers: {allowed}. Received: {identifier!r}")
    return cls

"""Stateless ops shaped like ``tf.nn``: numpy in (any float dtype, cast to float32), numpy out.

The same C++ kernels as the layers. Layouts are channels_last (NWC / NHWC); filters in TensorFlow's layout
(``(k, C_in, F)``, ``(kh, kw, C_in, F)``, depthwise ``(kh, kw, C_in, multiplier)``).

>>> import numpy as np, convlite
>>> x = np.random.rand(1, 28, 28, 1).astype("float32")
>>> k = np.ones((3, 3, 1, 4), "float32")
>>> convlite.nn.max_pool2d(convlite.nn.relu(convlite.nn.conv2d(x, k, 1, "SAME")), 2, 2, "VALID").shape
(1, 14, 14, 4)
"""
from ._nn_activation import *  # noqa: F401,F403
from ._nn_activation import __all__ as _activation_all
from ._nn_conv import bias_add, conv1d, conv2d, depthwise_conv2d, separable_conv2d
from ._nn_pool import *  # noqa: F401,F403
from ._nn_pool import __all__ as _pool_all

__all__ = sorted(["bias_add", "conv1d", "conv2d", "depthwise_conv2d", "separable_conv2d",
                  *_activation_all, *_pool_all])

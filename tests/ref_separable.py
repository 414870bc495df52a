"""Float64 numpy reference for the separable convolution: depthwise (no bias) then a 1x1 conv with bias and
activation, composed from ref_conv, and its gradients by the chain rule through the two halves."""
from __future__ import annotations

import numpy as np

import ref_conv as ref


def separable2d(x, dw, pw, bias=None, strides=(1, 1), dilations=(1, 1), padding=(0, 0, 0, 0), act="linear",
                negative_slope=0.0):
    """pw is (C*dm, F) or (1, 1, C*dm, F)."""
    mid = ref.depthwise2d(x, dw, None, strides, dilations, padding)
    pw = np.asarray(pw, np.float64).reshape(1, 1, -1, np.shape(pw)[-1])
    return ref.conv2d(mid, pw, bias, act=act, negative_slope=negative_slope)


def separable2d_grads(x, dw, pw, dy, strides=(1, 1), dilations=(1, 1), padding=(0, 0, 0, 0), y=None, act="linear",
                      negative_slope=0.0):
    """(dx, d_depthwise, d_pointwise (shaped like pw), db)."""
    mid = ref.depthwise2d(x, dw, None, strides, dilations, padding)
    pw4 = np.asarray(pw, np.float64).reshape(1, 1, -1, np.shape(pw)[-1])
    dmid, dpw, db = ref.conv2d_grads(mid, pw4, dy, y=y, act=act, negative_slope=negative_slope)
    dx, ddw, _ = ref.depthwise2d_grads(x, dw, dmid, strides, dilations, padding)
    return dx, ddw, dpw.reshape(np.shape(pw)), db

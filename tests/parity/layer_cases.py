"""The grid of layer configurations the parity suite runs against Keras.

A case is ``(id, factory, sample_shape)``; ``factory(L)`` builds the layer from a layers module (``convlite.layers``
or ``keras.layers``) with the same arguments. Sizes are odd on purpose (SIMD tails, uneven ``same`` padding).
Keras's own limits shape the grid: no strides > 1 together with dilation > 1, ``causal`` only on Conv1D.
"""
from __future__ import annotations

import itertools

ACTIVATIONS = [None, "relu", "tanh", "leaky_relu", "sigmoid", "elu"]


def _tag(value):
    return "x".join(map(str, value)) if isinstance(value, tuple) else str(value)


def _conv_grid(strides_options, dilation_options):
    """(strides, dilation) pairs Keras accepts."""
    for s, d in itertools.product(strides_options, dilation_options):
        if _over_one(s) and _over_one(d):
            continue
        yield s, d


def _over_one(v):
    return any(x > 1 for x in v) if isinstance(v, tuple) else v > 1


def conv_cases():
    cases = []
    n = 0
    # groups > 1 runs Keras's XLA-compiled conv (~1 s per new layer): crossed with k=3 and three (s, d) pairs only.
    for padding, k, groups in itertools.product(["valid", "same", "causal"], [1, 3, 4], [1, 2]):
        for s, d in _conv_grid([1, 2, 3], [1, 2]):
            if groups > 1 and (k != 3 or s == 3):
                continue
            act, bias = ACTIVATIONS[n % len(ACTIVATIONS)], n % 3 != 2
            n += 1
            cases.append((f"Conv1D-{padding}-k{k}-s{s}-d{d}-g{groups}-{act}-b{int(bias)}",
                          _factory("Conv1D", 6, k, strides=s, padding=padding, dilation_rate=d, groups=groups,
                                   activation=act, use_bias=bias), (13, 4)))
    for padding, k, groups in itertools.product(["valid", "same"], [1, 3, (2, 3)], [1, 2]):
        for s, d in _conv_grid([1, 2, (2, 1)], [1, 2, (1, 2)]):
            if groups > 1 and (k != 3 or s == (2, 1) or d == (1, 2)):
                continue
            act, bias = ACTIVATIONS[n % len(ACTIVATIONS)], n % 3 != 2
            n += 1
            cases.append((f"Conv2D-{padding}-k{_tag(k)}-s{_tag(s)}-d{_tag(d)}-g{groups}-{act}-b{int(bias)}",
                          _factory("Conv2D", 4, k, strides=s, padding=padding, dilation_rate=d, groups=groups,
                                   activation=act, use_bias=bias), (7, 9, 4)))
    cases.append(("Conv2D-SAME-uppercase", _factory("Conv2D", 6, (3, 2), padding="SAME", activation="relu"), (7, 6, 3)))
    for rank, padding, k, dm in itertools.product([1, 2], ["valid", "same"], [2, 3], [1, 2, 3]):
        for s, d in _conv_grid([1, 2], [1, 2]):
            act, bias = ACTIVATIONS[n % len(ACTIVATIONS)], n % 3 != 2
            n += 1
            shape = (11, 3) if rank == 1 else (7, 8, 3)
            cases.append((f"DepthwiseConv{rank}D-{padding}-k{k}-s{s}-d{d}-m{dm}-{act}-b{int(bias)}",
                          _factory(f"DepthwiseConv{rank}D", k, strides=s, padding=padding, dilation_rate=d,
                                   depth_multiplier=dm, activation=act, use_bias=bias), shape))
    for rank, padding, k, dm in itertools.product([1, 2], ["valid", "same"], [1, 3], [1, 2]):
        for s, d in _conv_grid([1, 2], [1, 2]):
            act, bias = ACTIVATIONS[n % len(ACTIVATIONS)], n % 3 != 2
            n += 1
            shape = (12, 3) if rank == 1 else (7, 6, 2)
            cases.append((f"SeparableConv{rank}D-{padding}-k{k}-s{s}-d{d}-m{dm}-{act}-b{int(bias)}",
                          _factory(f"SeparableConv{rank}D", 5, k, strides=s, padding=padding, dilation_rate=d,
                                   depth_multiplier=dm, activation=act, use_bias=bias), shape))
    return cases


def pool_cases():
    cases = []
    for kind, rank in itertools.product(["Max", "Average"], [1, 2]):
        shape = (13, 3) if rank == 1 else (7, 9, 3)
        for pool, strides, padding in itertools.product([2, 3], [None, 1, 2], ["valid", "same"]):
            cases.append((f"{kind}Pooling{rank}D-p{pool}-s{strides}-{padding}",
                          _factory(f"{kind}Pooling{rank}D", pool, strides=strides, padding=padding), shape))
        if rank == 2:
            cases.append((f"{kind}Pooling2D-p2x3-s1x2-same",
                          _factory(f"{kind}Pooling2D", (2, 3), strides=(1, 2), padding="same"), shape))
        for keepdims in (False, True):
            cases.append((f"Global{kind}Pooling{rank}D-keepdims{int(keepdims)}",
                          _factory(f"Global{kind}Pooling{rank}D", keepdims=keepdims), shape))
    return cases


def core_cases():
    cases = []
    for units, act, bias, shape in [(4, None, True, (7,)), (5, "relu", False, (9,)), (3, "softmax", True, (11,)),
                                    (6, "tanh", True, (3, 5)), (4, "softmax", True, (3, 5)),
                                    (2, "sigmoid", True, (2, 3, 5)),
                                    (1, "leaky_relu", True, (13,)), (7, "elu", False, (4, 3))]:
        cases.append((f"Dense-u{units}-{act}-b{int(bias)}-in{_tag(shape)}",
                      _factory("Dense", units, activation=act, use_bias=bias), shape))
    cases += [("Flatten-2d", _factory("Flatten"), (5, 3)), ("Flatten-3d", _factory("Flatten"), (3, 5, 2)),
              ("Reshape-neg", _factory("Reshape", (4, -1)), (6, 2)),
              ("Reshape-3d", _factory("Reshape", (3, 2, 5)), (5, 6)),
              ("Reshape-flat", _factory("Reshape", (15,)), (3, 5))]
    for size, shape in [(1, (5, 3)), ((1, 2), (4, 3)), (((1, 0), (2, 1)), (3, 4, 2)), (2, (3, 3, 2))]:
        cls = "ZeroPadding1D" if len(shape) == 2 else "ZeroPadding2D"
        cases.append((f"{cls}-{size}".replace(" ", ""), _factory(cls, size), shape))
    for size, shape in [(2, (5, 3)), (3, (4, 2)), ((2, 3), (3, 2, 2)), (2, (3, 3, 3))]:
        cls = "UpSampling1D" if len(shape) == 2 else "UpSampling2D"
        cases.append((f"{cls}-{_tag(size)}", _factory(cls, size), shape))
    return cases


def activation_cases():
    cases = []
    names = ["linear", "relu", "leaky_relu", "elu", "selu", "gelu", "silu", "sigmoid", "hard_sigmoid", "tanh",
             "softplus", "softsign", "exponential", "relu6", "softmax", "log_softmax"]
    for name in names:
        cases.append((f"Activation-{name}", _factory("Activation", name), (4, 7)))
    for slope, max_value, threshold in itertools.product([0.0, 0.1], [None, 0.5, 2.0], [0.0, 0.2]):
        cases.append((f"ReLU-ns{slope}-max{max_value}-th{threshold}",
                      _factory("ReLU", max_value=max_value, negative_slope=slope, threshold=threshold), (4, 7)))
    for slope in (None, 0.01, 0.5):
        kwargs = {} if slope is None else {"negative_slope": slope}
        cases.append((f"LeakyReLU-{slope}", _factory("LeakyReLU", **kwargs), (3, 5, 2)))
    for alpha in (1.0, 0.7):
        cases.append((f"ELU-{alpha}", _factory("ELU", alpha), (5, 3)))
    cases += [("Softmax-2d", _factory("Softmax"), (9,)), ("Softmax-3d", _factory("Softmax"), (3, 5, 4))]
    return cases


def regularization_cases():
    """Dropout at rate 0 trains as the identity in both libraries: comparable in training mode too."""
    cases = []
    for cls, shape in [("Dropout", (5, 3)), ("SpatialDropout1D", (5, 3)), ("SpatialDropout2D", (3, 4, 2))]:
        for rate in (0.0, 0.4):
            cases.append((f"{cls}-{rate}", _factory(cls, rate), shape))
    return cases


def batchnorm_cases():
    cases = []
    for shape, center, scale, momentum, epsilon in [((5, 3), True, True, 0.99, 1e-3),
                                                    ((3, 4, 2), True, True, 0.9, 1e-3),
                                                    ((7,), False, True, 0.99, 1e-2), ((6, 3), True, False, 0.5, 1e-3),
                                                    ((3, 5, 4), False, False, 0.99, 1e-5)]:
        cases.append((f"BatchNormalization-in{_tag(shape)}-c{int(center)}-s{int(scale)}-m{momentum}-e{epsilon}",
                      _factory("BatchNormalization", momentum=momentum, epsilon=epsilon, center=center, scale=scale),
                      shape))
    return cases


def large_cases():
    """Sizes past the SIMD widths and the GEMM's register and cache blocks (the grid above stays small for speed):
    Winograd-shaped 3x3 stride-1 convolutions, many channels, long 1D signals."""
    return [
        ("large-Conv2D-3x3-same-16to32", _factory("Conv2D", 32, 3, padding="same", activation="relu"), (16, 16, 16)),
        ("large-Conv2D-3x3-valid-17to33", _factory("Conv2D", 33, 3), (13, 15, 17)),
        ("large-Conv2D-5x5-s2-same", _factory("Conv2D", 20, 5, strides=2, padding="same"), (19, 17, 7)),
        ("large-Conv2D-1x1", _factory("Conv2D", 48, 1, activation="tanh"), (9, 11, 40)),
        ("large-Conv2D-groups4", _factory("Conv2D", 24, 3, groups=4, padding="same"), (11, 9, 16)),
        ("large-Conv1D-k5-s2", _factory("Conv1D", 40, 5, strides=2, activation="relu"), (67, 9)),
        ("large-Conv1D-causal-d3", _factory("Conv1D", 17, 3, padding="causal", dilation_rate=3), (101, 5)),
        ("large-DepthwiseConv2D-m2", _factory("DepthwiseConv2D", 3, depth_multiplier=2, padding="same"), (15, 17, 19)),
        ("large-DepthwiseConv1D-s2", _factory("DepthwiseConv1D", 5, strides=2), (77, 21)),
        ("large-SeparableConv2D", _factory("SeparableConv2D", 24, 3, padding="same", activation="relu"), (11, 13, 10)),
        ("large-Dense", _factory("Dense", 70, activation="sigmoid"), (130,)),
        ("large-MaxPooling2D-same", _factory("MaxPooling2D", 3, strides=2, padding="same"), (17, 19, 21)),
        ("large-AveragePooling2D", _factory("AveragePooling2D", 2), (17, 19, 21)),
        ("large-GlobalAveragePooling2D", _factory("GlobalAveragePooling2D"), (13, 11, 37)),
        ("large-BatchNormalization", _factory("BatchNormalization"), (9, 11, 19)),
        ("large-Softmax", _factory("Softmax"), (5, 67)),
    ]


def _factory(cls_name, *args, **kwargs):
    def make(L):
        return getattr(L, cls_name)(*args, **kwargs)

    make.cls_name = cls_name
    return make


ALL_CASES = conv_cases() + pool_cases() + core_cases() + activation_cases() + regularization_cases() + \
    batchnorm_cases() + large_cases()

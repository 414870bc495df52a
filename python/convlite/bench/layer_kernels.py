"""The rest of issue 4's standalone kernels against TensorFlow's own ops: average and global pooling, tanh and
sigmoid, batch normalization, dropout and the fused softmax cross-entropy.

The `kernel/` rows of rows.py hold the kernels issue 4 names first (relu, max pooling, softmax, dense, Adam); these
rows complete the set a small CNN runs. Each is memory-bound, so it carries the bytes it must move (inputs read once,
outputs written once) for GB/s and % of a plain copy of the same working set. TensorFlow runs the op that its Keras
layer's forward or backward calls (`AvgPoolGrad`, `TanhGrad`, `FusedBatchNormV3`, ...), eagerly, as a layer would.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .timing import Settings, time_calls

POOL_SHAPE = (8, 56, 56, 64)  # 6.4 MB, as the max-pooling rows
ELEMENTS = 2 * 1024 * 1024  # 8 MB of float32, as the relu rows
CE_SHAPE = (8192, 256)  # logits of the softmax row, with sparse labels
RATE = 0.5


@dataclass(frozen=True)
class KernelRow:
    id: str
    label: str
    bytes: float
    notes: str = ""


def _rows() -> list[KernelRow]:
    pool = 4.0 * np.prod(POOL_SHAPE)
    pooled = pool / 4
    n = 4.0 * ELEMENTS
    logits = 4.0 * np.prod(CE_SHAPE)
    return [
        KernelRow("kernel/avgpool_fwd", "average pool 2x2/2 on 8x56x56x64 (6.4 MB): forward", pool + pooled),
        KernelRow("kernel/avgpool_bwd", "average pool 2x2/2: backward", pooled + pool, "TF AvgPoolGrad"),
        KernelRow("kernel/global_avgpool_fwd", "global average pool 8x56x56x64 -> 8x64: forward", pool,
                  "TF reduce_mean over H, W (GlobalAveragePooling2D)"),
        KernelRow("kernel/tanh_fwd", "tanh on 2M floats (8 MB): forward", 2 * n),
        KernelRow("kernel/tanh_bwd", "tanh on 2M floats: backward from the output", 3 * n, "TF TanhGrad"),
        KernelRow("kernel/sigmoid_fwd", "sigmoid on 2M floats (8 MB): forward", 2 * n),
        KernelRow("kernel/sigmoid_bwd", "sigmoid on 2M floats: backward from the output", 3 * n, "TF SigmoidGrad"),
        KernelRow("kernel/batchnorm_fwd", "batch norm, training, 8x56x56x64 (6.4 MB): forward", 2 * pool,
                  "TF FusedBatchNormV3(is_training=True): batch statistics + normalise"),
        KernelRow("kernel/batchnorm_bwd", "batch norm, training: backward (dx, dgamma, dbeta)", 3 * pool,
                  "TF FusedBatchNormGradV3"),
        KernelRow("kernel/dropout_fwd", f"dropout rate {RATE} on 2M floats (8 MB): forward", 2 * n + ELEMENTS,
                  "convlite: counter-based Philox mask (1 byte per value) + scale; TF tf.nn.dropout"),
        KernelRow("kernel/softmax_ce", "sparse softmax cross-entropy 8192x256 (8 MB) from logits: loss + gradient",
                  2 * logits, "TF SparseSoftmaxCrossEntropyWithLogits (the op Keras's fused loss calls)"),
    ]


ROWS = _rows()
IDS = {r.id for r in ROWS}


def tensors() -> dict:
    from . import data

    x = data.normal(POOL_SHAPE, 500)
    v = data.normal((ELEMENTS,), 501)
    return {
        "pool_x": x,
        "pool_dy": data.normal((POOL_SHAPE[0], POOL_SHAPE[1] // 2, POOL_SHAPE[2] // 2, POOL_SHAPE[3]), 502),
        "v": v,
        "dv": data.normal((ELEMENTS,), 503),
        "tanh_y": np.tanh(v),
        "sigmoid_y": (1 / (1 + np.exp(-v))).astype(np.float32),
        "bn_dy": data.normal(POOL_SHAPE, 504),
        "gamma": np.ones(POOL_SHAPE[-1], np.float32),
        "beta": np.zeros(POOL_SHAPE[-1], np.float32),
        "logits": data.normal(CE_SHAPE, 505),
        "labels": data.rng(506).integers(0, CE_SHAPE[1], CE_SHAPE[0]).astype(np.int32),
    }


def convlite_cells(core, wanted: set, settings: Settings) -> dict:
    if not wanted & IDS:
        return {}
    t = tensors()
    x, dy = t["pool_x"], t["pool_dy"]
    mean, var = np.zeros(POOL_SHAPE[-1], np.float32), np.ones(POOL_SHAPE[-1], np.float32)
    _, saved_mean, saved_inv_std = core.batch_norm_forward(x, t["gamma"], t["beta"], mean, var, training=True)
    labels = t["labels"].astype(np.float32)
    offset = [0]

    def dropout():
        offset[0] += ELEMENTS
        return core.dropout(t["v"], RATE, 7, offset[0])

    calls = {
        "kernel/avgpool_fwd": lambda: core.avg_pool2d(x, (2, 2)),
        "kernel/avgpool_bwd": lambda: core.avg_pool2d_backward(dy, x.shape, (2, 2)),
        "kernel/global_avgpool_fwd": lambda: core.global_pool(x.reshape(POOL_SHAPE[0], -1, POOL_SHAPE[3]), "avg"),
        "kernel/tanh_fwd": lambda: core.activation(t["v"], "tanh"),
        "kernel/tanh_bwd": lambda: core.activation_backward(None, t["tanh_y"], t["dv"], "tanh"),
        "kernel/sigmoid_fwd": lambda: core.activation(t["v"], "sigmoid"),
        "kernel/sigmoid_bwd": lambda: core.activation_backward(None, t["sigmoid_y"], t["dv"], "sigmoid"),
        "kernel/batchnorm_fwd": lambda: core.batch_norm_forward(x, t["gamma"], t["beta"], mean, var, training=True),
        "kernel/batchnorm_bwd": lambda: core.batch_norm_backward(x, t["gamma"], saved_mean, saved_inv_std,
                                                                 t["bn_dy"]),
        "kernel/dropout_fwd": dropout,
        "kernel/softmax_ce": lambda: core.loss("sparse_categorical_crossentropy", t["logits"], labels,
                                               from_logits=True),
    }
    return {row_id: time_calls(call, settings) for row_id, call in calls.items() if row_id in wanted}


def tensorflow_cells(tf, wanted: set, settings: Settings) -> dict:
    if not wanted & IDS:
        return {}
    t = {k: tf.constant(v) for k, v in tensors().items()}
    x, dy = t["pool_x"], t["pool_dy"]
    empty = tf.constant([], tf.float32)
    _, _, _, reserve_1, reserve_2, reserve_3 = tf.raw_ops.FusedBatchNormV3(
        x=x, scale=t["gamma"], offset=t["beta"], mean=empty, variance=empty, epsilon=1e-3, is_training=True)
    x_shape = tf.constant(list(POOL_SHAPE), tf.int32)
    calls = {
        "kernel/avgpool_fwd": lambda: tf.nn.avg_pool2d(x, 2, 2, "VALID"),
        "kernel/avgpool_bwd": lambda: tf.raw_ops.AvgPoolGrad(orig_input_shape=x_shape, grad=dy, ksize=[1, 2, 2, 1],
                                                             strides=[1, 2, 2, 1], padding="VALID"),
        "kernel/global_avgpool_fwd": lambda: tf.reduce_mean(x, axis=[1, 2]),
        "kernel/tanh_fwd": lambda: tf.math.tanh(t["v"]),
        "kernel/tanh_bwd": lambda: tf.raw_ops.TanhGrad(y=t["tanh_y"], dy=t["dv"]),
        "kernel/sigmoid_fwd": lambda: tf.math.sigmoid(t["v"]),
        "kernel/sigmoid_bwd": lambda: tf.raw_ops.SigmoidGrad(y=t["sigmoid_y"], dy=t["dv"]),
        "kernel/batchnorm_fwd": lambda: tf.raw_ops.FusedBatchNormV3(
            x=x, scale=t["gamma"], offset=t["beta"], mean=empty, variance=empty, epsilon=1e-3, is_training=True),
        "kernel/batchnorm_bwd": lambda: tf.raw_ops.FusedBatchNormGradV3(
            y_backprop=t["bn_dy"], x=x, scale=t["gamma"], reserve_space_1=reserve_1, reserve_space_2=reserve_2,
            reserve_space_3=reserve_3, epsilon=1e-3, is_training=True),
        "kernel/dropout_fwd": lambda: tf.nn.dropout(t["v"], rate=RATE),
        "kernel/softmax_ce": lambda: tf.raw_ops.SparseSoftmaxCrossEntropyWithLogits(features=t["logits"],
                                                                                   labels=t["labels"]),
    }
    return {row_id: time_calls(call, settings) for row_id, call in calls.items() if row_id in wanted}


def torch_cells(torch, wanted: set, settings: Settings) -> dict:
    """PyTorch's ATen ops for the same rows: the forward op and, for backward rows, the backward op autograd
    would call (`avg_pool2d_backward`, `tanh_backward`, `native_batch_norm_backward`, ...), channels_last."""
    if not wanted & IDS:
        return {}
    F, aten = torch.nn.functional, torch.ops.aten
    t = {k: torch.from_numpy(v) for k, v in tensors().items()}
    x, dy = t["pool_x"].permute(0, 3, 1, 2), t["pool_dy"].permute(0, 3, 1, 2)  # NHWC memory, NCHW view
    bn_dy = t["bn_dy"].permute(0, 3, 1, 2)
    with torch.inference_mode():
        _, saved_mean, saved_inv_std = aten.native_batch_norm(x, t["gamma"], t["beta"], None, None, True, 0.01,
                                                              1e-3)
    calls = {
        "kernel/avgpool_fwd": lambda: F.avg_pool2d(x, 2),
        "kernel/avgpool_bwd": lambda: aten.avg_pool2d_backward(dy, x, [2, 2], [2, 2], [0, 0], False, True, None),
        "kernel/global_avgpool_fwd": lambda: x.mean((2, 3)),
        "kernel/tanh_fwd": lambda: torch.tanh(t["v"]),
        "kernel/tanh_bwd": lambda: aten.tanh_backward(t["dv"], t["tanh_y"]),
        "kernel/sigmoid_fwd": lambda: torch.sigmoid(t["v"]),
        "kernel/sigmoid_bwd": lambda: aten.sigmoid_backward(t["dv"], t["sigmoid_y"]),
        "kernel/batchnorm_fwd": lambda: aten.native_batch_norm(x, t["gamma"], t["beta"], None, None, True, 0.01,
                                                               1e-3),
        "kernel/batchnorm_bwd": lambda: aten.native_batch_norm_backward(
            bn_dy, x, t["gamma"], None, None, saved_mean, saved_inv_std, True, 1e-3, [True, True, True]),
        "kernel/dropout_fwd": lambda: F.dropout(t["v"], RATE, training=True),
    }
    cells = {}
    with torch.inference_mode():
        for row_id, call in calls.items():
            if row_id in wanted:
                cells[row_id] = time_calls(call, settings)
    if "kernel/softmax_ce" in wanted:  # loss and gradient the way a PyTorch training step gets them: autograd
        logits = t["logits"].clone().requires_grad_()
        labels = t["labels"].long()

        def softmax_ce():
            loss = F.cross_entropy(logits, labels)
            return loss, torch.autograd.grad(loss, logits)[0]

        cells["kernel/softmax_ce"] = time_calls(softmax_ce, settings)
    return cells

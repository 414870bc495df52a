"""The benchmark's rows: what each one measures, at which size, and how much work it does.

Every framework's workload module implements a subset of these ids; the runner asks each framework's process for
the rows it implements and the report lines them up. Sizes live here (not in the workload modules) so that every
framework runs exactly the same shapes. `quick` sizes keep `--quick` under two minutes on a 2-core machine.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from . import conv_shapes, layer_kernels, separable_shapes

# Conv 3x3 64->64 on 56x56, batch 8, same padding: the issue-3 speed bar shape.
CONV = dict(batch=8, size=56, channels=64, filters=64, kernel=3)
CONV_FLOPS = 2.0 * 8 * 56 * 56 * 64 * (3 * 3 * 64)
DEPTHWISE = dict(batch=8, size=56, channels=32, kernel=3)
DEPTHWISE_FLOPS = 2.0 * 8 * 56 * 56 * 32 * 9
# The seed ECG model's two Conv1D layers at batch 32: (100, 1) -> 16 filters, then (98, 16) -> 8 filters, k = 3.
ECG_CONV1 = dict(batch=32, length=100, channels=1, filters=16, kernel=3)
ECG_CONV2 = dict(batch=32, length=98, channels=16, filters=8, kernel=3)
ECG_CONV1_FLOPS = 2.0 * 32 * 98 * 16 * 3 * 1
ECG_CONV2_FLOPS = 2.0 * 32 * 96 * 8 * 3 * 16
# Max pooling 2x2/2 on the conv shape: a 6.4 MB input (issue 4 asks for 4-16 MB memory-bound tensors).
POOL = dict(batch=8, size=56, channels=64, pool=2)
POOL_IN_BYTES = 4.0 * 8 * 56 * 56 * 64
POOL_OUT_BYTES = POOL_IN_BYTES / 4
# Dense 1024 -> 512 at batch 64 with bias and relu; SGEMM 1024^3 against numpy (issue 3).
DENSE = dict(batch=64, inputs=1024, units=512)
DENSE_FLOPS = 2.0 * 64 * 1024 * 512
SGEMM_N = 1024
SGEMM_FLOPS = 2.0 * SGEMM_N ** 3
# Memory-bound kernels at 8 MB (2M floats) and Adam over 1M parameters.
ELEMENTWISE_N = 2 * 1024 * 1024
SOFTMAX_SHAPE = (8192, 256)
ADAM_N = 1024 * 1024

# Training data per "epoch": ECG200 is 100 series of length 100 (its training split); the image models use a slice
# of MNIST-sized data so a full run stays within minutes on two cores (per-epoch ratios do not depend on the count).
TRAIN_SAMPLES = {"ecg": 100, "mnist_convnet": 2048, "lenet5": 2048}
TRAIN_SAMPLES_QUICK = {"ecg": 100, "mnist_convnet": 256, "lenet5": 512}
TRAIN_BATCH = {"ecg": 32, "mnist_convnet": 64, "lenet5": 64}
BATCH_PREDICT_SAMPLES = 2048
BATCH_PREDICT_SAMPLES_QUICK = 512


@dataclass(frozen=True)
class Row:
    id: str
    group: str  # training | kernels | conv shapes | inference | footprint
    label: str
    flops: float | None = None  # per call, for GFLOP/s and % of the FMA peak
    bytes: float | None = None  # moved per call, for GB/s and % of the copy bandwidth
    copy_bytes: float | None = None  # size of the comparison memcpy (default bytes / 2: same working set)
    unit: str = "time"  # time | epoch | bytes | seconds
    fresh_process: bool = False  # needs its own process (import time, peak RSS)
    notes: str = ""
    tags: tuple = field(default_factory=tuple)
    convlite_only: bool = False  # a convlite variant with no counterpart elsewhere: other columns show "-"


def _rows() -> list[Row]:
    r = []
    add = r.append
    # Training, one epoch of fit (median over epochs after warm-up epochs).
    def fit_label(name, what, shape):
        n, quick, batch = TRAIN_SAMPLES[name], TRAIN_SAMPLES_QUICK[name], TRAIN_BATCH[name]
        return f"{what} fit, 1 epoch of {n} x {shape}" + (f" (quick: {quick})" if quick != n else "") + \
            f", batch {batch}, Adam"

    add(Row("train/ecg", "training", fit_label("ecg", "ECG seed model", "(100, 1)"), unit="epoch"))
    add(Row("train/mnist_convnet", "training", fit_label("mnist_convnet", "Keras MNIST convnet", "(28, 28, 1)"),
            unit="epoch"))
    add(Row("train/lenet5", "training", fit_label("lenet5", "LeNet-5", "(28, 28, 1)"), unit="epoch"))
    # Kernels.
    add(Row("kernel/conv3x3_fwd", "kernels", "conv 3x3 64->64 56x56 b8 same: forward", flops=CONV_FLOPS))
    add(Row("kernel/conv3x3_fwd_gemm", "kernels", "conv 3x3 64->64: forward on the GEMM route (CONVLITE_CONV_ALGO=gemm)",
            flops=CONV_FLOPS, notes="convlite only: the implicit-GEMM engine without Winograd, for % of FMA peak",
            convlite_only=True))
    add(Row("kernel/conv3x3_dgrad", "kernels", "conv 3x3 64->64: input gradient", flops=CONV_FLOPS,
            notes="convlite: conv2d_backward(need_dw=False), or (dx+dw) - dw on older builds"))
    add(Row("kernel/conv3x3_wgrad", "kernels", "conv 3x3 64->64: weight (+bias) gradient", flops=CONV_FLOPS))
    add(Row("kernel/conv3x3_bwd", "kernels", "conv 3x3 64->64: input + weight gradient", flops=2 * CONV_FLOPS))
    add(Row("kernel/conv3x3_train", "kernels", "conv 3x3 64->64: forward + input grad + weight grad",
            flops=3 * CONV_FLOPS))
    add(Row("kernel/depthwise3x3_fwd", "kernels", "depthwise 3x3, 32 ch, 56x56 b8: forward", flops=DEPTHWISE_FLOPS))
    add(Row("kernel/depthwise3x3_bwd", "kernels", "depthwise 3x3, 32 ch: input + weight gradient",
            flops=2 * DEPTHWISE_FLOPS))
    add(Row("kernel/ecg_conv1_fwd", "kernels", "ECG Conv1D 1->16 k3 (b32, len 100) +bias+relu: forward",
            flops=ECG_CONV1_FLOPS))
    add(Row("kernel/ecg_conv1_bwd", "kernels", "ECG Conv1D 1->16: weight+bias gradient (first layer: no dx)",
            flops=ECG_CONV1_FLOPS))
    add(Row("kernel/ecg_conv2_fwd", "kernels", "ECG Conv1D 16->8 k3 (b32, len 98) +bias+relu: forward",
            flops=ECG_CONV2_FLOPS))
    add(Row("kernel/ecg_conv2_bwd", "kernels", "ECG Conv1D 16->8: input + weight + bias gradient",
            flops=2 * ECG_CONV2_FLOPS))
    add(Row("kernel/maxpool_fwd", "kernels", "max pool 2x2/2 on 8x56x56x64 (6.4 MB): forward",
            bytes=POOL_IN_BYTES + POOL_OUT_BYTES))
    add(Row("kernel/maxpool_bwd", "kernels", "max pool 2x2/2: backward", bytes=POOL_IN_BYTES + 2 * POOL_OUT_BYTES,
            notes="convlite/torch from stored argmax; TF MaxPoolGrad recomputes from input and output"))
    add(Row("kernel/dense_fwd", "kernels", "dense 1024->512 b64 +bias+relu: forward", flops=DENSE_FLOPS))
    add(Row("kernel/dense_bwd", "kernels", "dense 1024->512: input + weight + bias gradient",
            flops=2 * DENSE_FLOPS))
    add(Row("kernel/sgemm1024", "kernels", "SGEMM 1024x1024x1024", flops=SGEMM_FLOPS))
    add(Row("kernel/relu_fwd", "kernels", "relu on 2M floats (8 MB): forward", bytes=8.0 * ELEMENTWISE_N))
    add(Row("kernel/relu_bwd", "kernels", "relu on 2M floats: backward", bytes=12.0 * ELEMENTWISE_N))
    add(Row("kernel/softmax", "kernels", "softmax 8192x256 (8 MB), last axis",
            bytes=8.0 * SOFTMAX_SHAPE[0] * SOFTMAX_SHAPE[1]))
    add(Row("kernel/adam_1m", "kernels", "Adam step over 1M parameters", bytes=7 * 4.0 * ADAM_N,
            copy_bytes=2 * 4.0 * ADAM_N,  # 4 arrays of 4 MB in cache: the working set of an 8 MB copy
            notes="TF ResourceApplyAdam; torch Adam(foreach); numpy vectorised Keras formulas"))
    # The rest of a small CNN's memory-bound kernels (bench/layer_kernels.py).
    for k in layer_kernels.ROWS:
        add(Row(k.id, "kernels", k.label, bytes=k.bytes, notes=k.notes))
    # The small-CNN convolution table (bench/conv_shapes.py).
    for shape in conv_shapes.SHAPES:
        fwd_id, bwd_id = conv_shapes.row_ids(shape)
        add(Row(fwd_id, "conv shapes", f"{shape.label()}: forward +bias+relu", flops=shape.flops()))
        grads = "weight + bias gradient" if shape.first else "input + weight + bias gradient"
        add(Row(bwd_id, "conv shapes", f"{shape.label()}: {grads}",
                flops=shape.flops() * (1 if shape.first else 2)))
    # Separable convolutions, fused vs unfused (bench/separable_shapes.py).
    for shape in separable_shapes.SHAPES:
        for kind in separable_shapes.KINDS:
            only = kind in separable_shapes.CONVLITE_ONLY
            add(Row(separable_shapes.row_id(shape, kind), "conv shapes", separable_shapes.row_label(shape, kind),
                    flops=separable_shapes.row_flops(shape, kind), notes="convlite only" if only else "",
                    convlite_only=only))
    # Inference.
    add(Row("infer/ecg_1_call", "inference", "ECG model, 1 sample: model(x)"))
    add(Row("infer/ecg_1_predict_on_batch", "inference", "ECG model, 1 sample: predict_on_batch(x)"))
    add(Row("infer/ecg_1_predict", "inference", "ECG model, 1 sample: predict(x)"))
    add(Row("infer/ecg_batch", "inference", "ECG model: predict on a batch (time per sample)",
            notes="predict(x, batch_size=256)"))
    add(Row("infer/mnist_batch", "inference", "MNIST convnet: predict on a batch (time per sample)",
            notes="predict(x, batch_size=256)"))
    # Footprint.
    add(Row("footprint/import", "footprint", "import time in a fresh process", unit="seconds", fresh_process=True))
    add(Row("footprint/installed", "footprint", "installed size of the package directories", unit="bytes"))
    add(Row("footprint/peak_rss", "footprint", "peak RSS: import + ECG fit (5 epochs)", unit="bytes",
            fresh_process=True))
    return r


ROWS: list[Row] = _rows()
ROWS_BY_ID: dict[str, Row] = {row.id: row for row in ROWS}


def select_rows(only: str | None) -> list[Row]:
    """Rows whose id or label matches `only` (a substring or a regular expression); all rows when None."""
    if not only:
        return list(ROWS)
    try:
        pattern = re.compile(only, re.IGNORECASE)
    except re.error:
        pattern = re.compile(re.escape(only), re.IGNORECASE)
    chosen = [row for row in ROWS if pattern.search(row.id) or pattern.search(row.label)]
    if not chosen:
        known = ", ".join(row.id for row in ROWS)
        raise ValueError(f"`--only` matched no benchmark row. Known rows: {known}. Received: only={only!r}")
    return chosen

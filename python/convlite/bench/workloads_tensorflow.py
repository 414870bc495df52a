"""TensorFlow / Keras side of the benchmark (runs in its own process; see worker.py).

Kernels use the op a TensorFlow user gets: tf.nn.* eagerly for single ops; the raw gradient ops
(Conv2DBackpropInput/Filter, MaxPoolGrad, ReluGrad, ResourceApplyAdam) for backward passes, so no forward pass is
recomputed; several ops in a tf.function where TF's graph optimiser can fuse them (bias + relu, dense).
"""
from __future__ import annotations

import os

from . import conv_shapes, data, keras_models, layer_kernels, rows, separable_shapes
from .timing import Settings, time_calls


def framework_info(import_log: str) -> dict:
    import keras
    import tensorflow as tf

    onednn_env = os.environ.get("TF_ENABLE_ONEDNN_OPTS")
    said_on = "oneDNN custom operations are on" in import_log
    return {
        "name": "tensorflow",
        "version": tf.__version__,
        "keras": keras.__version__,
        "TF_ENABLE_ONEDNN_OPTS": onednn_env if onednn_env is not None else "(unset)",
        "onednn_ops": "on" if said_on else "off",
        "threads": {"intra_op": tf.config.threading.get_intra_op_parallelism_threads(),
                    "inter_op": tf.config.threading.get_inter_op_parallelism_threads()},
    }


def setup(threads: int) -> None:
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(threads)


def _kernels(tf, wanted: set, settings: Settings) -> dict:
    cells = {}
    S1 = [1, 1, 1, 1]

    def run(row_id, fn):
        if row_id in wanted:
            cells[row_id] = time_calls(fn, settings)

    if wanted & {r for r in wanted if r.startswith("kernel/conv3x3")}:
        t = {k: tf.constant(v) for k, v in data.conv_tensors().items()}
        x, w, dy = t["x"], t["w"], t["dy"]
        x_shape, w_shape = tf.constant(x.shape.as_list()), tf.constant(w.shape.as_list())

        def dgrad():
            return tf.raw_ops.Conv2DBackpropInput(input_sizes=x_shape, filter=w, out_backprop=dy, strides=S1,
                                                  padding="SAME")

        def wgrad():
            return tf.raw_ops.Conv2DBackpropFilter(input=x, filter_sizes=w_shape, out_backprop=dy, strides=S1,
                                                   padding="SAME")

        run("kernel/conv3x3_fwd", lambda: tf.nn.conv2d(x, w, 1, "SAME"))
        run("kernel/conv3x3_dgrad", dgrad)
        run("kernel/conv3x3_wgrad", wgrad)
        run("kernel/conv3x3_bwd", lambda: (dgrad(), wgrad()))
        run("kernel/conv3x3_train", lambda: (tf.nn.conv2d(x, w, 1, "SAME"), dgrad(), wgrad()))

    if wanted & {"kernel/depthwise3x3_fwd", "kernel/depthwise3x3_bwd"}:
        t = {k: tf.constant(v) for k, v in data.depthwise_tensors().items()}
        x, w, dy = t["x"], t["w"], t["dy"]
        x_shape, w_shape = tf.constant(x.shape.as_list()), tf.constant(w.shape.as_list())
        run("kernel/depthwise3x3_fwd", lambda: tf.nn.depthwise_conv2d(x, w, S1, "SAME"))
        run("kernel/depthwise3x3_bwd", lambda: (
            tf.raw_ops.DepthwiseConv2dNativeBackpropInput(input_sizes=x_shape, filter=w, out_backprop=dy,
                                                          strides=S1, padding="SAME"),
            tf.raw_ops.DepthwiseConv2dNativeBackpropFilter(input=x, filter_sizes=w_shape, out_backprop=dy,
                                                           strides=S1, padding="SAME")))

    for layer, spec, offset in (("ecg_conv1", rows.ECG_CONV1, 100), ("ecg_conv2", rows.ECG_CONV2, 110)):
        if not wanted & {f"kernel/{layer}_fwd", f"kernel/{layer}_bwd"}:
            continue
        t = {k: tf.constant(v) for k, v in data.conv1d_tensors(spec, offset).items()}
        need_dx = layer == "ecg_conv2"
        forward = tf.function(lambda x, w, b: tf.nn.relu(tf.nn.bias_add(tf.nn.conv1d(x, w, 1, "VALID"), b)))
        y = forward(t["x"], t["w"], t["b"])

        @tf.function
        def backward(x, w, y, dy, need_dx=need_dx):
            g = tf.raw_ops.ReluGrad(gradients=dy, features=y)
            x4, g4, w4 = x[:, None], g[:, None], w[None]
            dw = tf.raw_ops.Conv2DBackpropFilter(input=x4, filter_sizes=tf.shape(w4), out_backprop=g4,
                                                 strides=S1, padding="VALID")
            out = [dw, tf.reduce_sum(g, axis=[0, 1])]
            if need_dx:
                out.append(tf.raw_ops.Conv2DBackpropInput(input_sizes=tf.shape(x4), filter=w4, out_backprop=g4,
                                                          strides=S1, padding="VALID"))
            return out

        run(f"kernel/{layer}_fwd", lambda t=t: forward(t["x"], t["w"], t["b"]))
        run(f"kernel/{layer}_bwd", lambda t=t, y=y, backward=backward: backward(t["x"], t["w"], y, t["dy"]))

    if wanted & {"kernel/maxpool_fwd", "kernel/maxpool_bwd"}:
        t = {k: tf.constant(v) for k, v in data.pool_tensors().items()}
        y = tf.nn.max_pool2d(t["x"], 2, 2, "VALID")
        run("kernel/maxpool_fwd", lambda: tf.nn.max_pool2d(t["x"], 2, 2, "VALID"))
        run("kernel/maxpool_bwd", lambda: tf.raw_ops.MaxPoolGrad(orig_input=t["x"], orig_output=y, grad=t["dy"],
                                                                 ksize=[1, 2, 2, 1], strides=[1, 2, 2, 1],
                                                                 padding="VALID"))

    if wanted & {"kernel/dense_fwd", "kernel/dense_bwd"}:
        t = {k: tf.constant(v) for k, v in data.dense_tensors().items()}
        forward = tf.function(lambda x, w, b: tf.nn.relu(tf.matmul(x, w) + b))
        y = forward(t["x"], t["w"], t["b"])

        @tf.function
        def dense_backward(x, w, y, dy):
            g = tf.raw_ops.ReluGrad(gradients=dy, features=y)
            return tf.matmul(g, w, transpose_b=True), tf.matmul(x, g, transpose_a=True), tf.reduce_sum(g, axis=0)

        run("kernel/dense_fwd", lambda: forward(t["x"], t["w"], t["b"]))
        run("kernel/dense_bwd", lambda: dense_backward(t["x"], t["w"], y, t["dy"]))

    if "kernel/sgemm1024" in wanted:
        t = {k: tf.constant(v) for k, v in data.sgemm_tensors().items()}
        run("kernel/sgemm1024", lambda: tf.matmul(t["a"], t["b"]))

    if wanted & {"kernel/relu_fwd", "kernel/relu_bwd", "kernel/softmax"}:
        t = {k: tf.constant(v) for k, v in data.elementwise_tensors().items()}
        run("kernel/relu_fwd", lambda: tf.nn.relu(t["x"]))
        run("kernel/relu_bwd", lambda: tf.raw_ops.ReluGrad(gradients=t["dy"], features=t["x"]))
        run("kernel/softmax", lambda: tf.nn.softmax(t["logits"]))

    if "kernel/adam_1m" in wanted:
        t = data.adam_tensors()
        var, m, v = tf.Variable(t["param"]), tf.Variable(t["m"]), tf.Variable(t["v"])
        grad = tf.constant(t["grad"])
        scalars = [tf.constant(s, tf.float32) for s in (0.9, 0.999, 1e-3, 0.9, 0.999, 1e-7)]
        b1p, b2p, lr, b1, b2, eps = scalars
        run("kernel/adam_1m", lambda: tf.raw_ops.ResourceApplyAdam(
            var=var.handle, m=m.handle, v=v.handle, beta1_power=b1p, beta2_power=b2p, lr=lr, beta1=b1, beta2=b2,
            epsilon=eps, grad=grad))
    return cells


def run(wanted: set, settings: Settings) -> dict:
    import keras
    import tensorflow as tf

    cells = _kernels(tf, wanted, settings)
    cells.update(conv_shapes.tensorflow_cells(tf, wanted, settings))
    cells.update(layer_kernels.tensorflow_cells(tf, wanted, settings))
    cells.update(separable_shapes.tensorflow_cells(tf, wanted, settings))
    for name in ("ecg", "mnist_convnet", "lenet5"):
        if f"train/{name}" in wanted:
            cells[f"train/{name}"] = keras_models.time_fit_epochs(keras, keras.callbacks.Callback, name, settings)
    if any(r.startswith("infer/") for r in wanted):
        cells.update(keras_models.inference_cells(keras, settings, wanted))
    return cells


def peak_rss_workload() -> dict:
    import keras

    return keras_models.peak_rss_fit(keras, keras.callbacks.Callback)


"""Forward outputs and gradients of one layer, from Keras (GradientTape) and from convlite (its C++ training step).

convlite exposes no per-layer backward in its public API: gradients only exist inside the compiled model's
``train_step``. So the convlite side runs the layer inside a probe model and reads the gradients back from one SGD
step, exactly as training computes them:

    Input((B,)) -> Dense(D, use_bias=False) -> Reshape(sample shape) -> layer under test -> Flatten

* The probe's input is the identity matrix I_B and the Dense kernel holds the data (row b = sample b flattened), so
  the layer sees exactly ``x`` and the Dense kernel's gradient ``I_B^T @ dX`` is exactly the layer's input gradient.
* The loss is MSE, whose gradient with respect to the prediction is ``2 (p - t) / size``: choosing the target
  ``t = p - g * size / 2`` makes the upstream gradient the fixed random ``g`` (p comes from a first step with lr 0).
* SGD without momentum at lr = 2**20 moves every weight by ``lr * grad``, which dominates the weight itself, so
  ``(w_before - w_after) / lr`` recovers the gradient to float32 precision (the power of two scales exactly).
"""
from __future__ import annotations

import numpy as np

import convlite
from convlite import optimizers

LR = float(2**20)


def keras_forward_and_grads(tf, layer, x, upstream, training):
    """Keras: (y, dx, [d trainable weight, ...]) for one call of ``layer`` on ``x`` with output gradient
    ``upstream`` (None skips the gradients). Weight gradients follow ``layer.trainable_weights``."""
    xt = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(xt)
        y = layer(xt, training=training)
    if upstream is None:
        return y.numpy(), None, []
    grads = tape.gradient(y, [xt, *layer.trainable_weights], output_gradients=tf.constant(upstream))
    return y.numpy(), _dense(grads[0], x.shape), [_dense(g, w.shape) for g, w in zip(grads[1:],
                                                                                       layer.trainable_weights)]


def _dense(grad, shape):
    """A tape gradient as numpy; None (no dependence) becomes zeros, IndexedSlices are densified."""
    if grad is None:
        return np.zeros(shape, np.float32)
    return np.asarray(grad.numpy() if hasattr(grad, "numpy") else grad)


class ConvliteProbe:
    """The probe model around a convlite layer (see the module docstring); ``run`` does one training step."""

    def __init__(self, layer, sample_shape, batch):
        size = int(np.prod(sample_shape))
        self.layer, self.batch, self.sample_shape = layer, batch, tuple(sample_shape)
        self.feed = convlite.layers.Dense(size, use_bias=False)
        self.model = convlite.Sequential([convlite.Input((batch,)), self.feed,
                                          convlite.layers.Reshape(self.sample_shape), layer,
                                          convlite.layers.Flatten()])
        self.optimizer = optimizers.SGD(learning_rate=0.0)
        self.model.compile(self.optimizer, "mse")

    def run(self, x, upstream):
        """One training step on ``x`` with output gradient ``upstream``: (y_training, dx, [d trainable weight]).

        Non-trainable weights (BatchNormalization's moving statistics) end as after exactly one training step."""
        x = np.asarray(x, np.float32)
        assert x.shape == (self.batch, *self.sample_shape)
        self.feed.set_weights([x.reshape(self.batch, -1)])
        before = [w.numpy() for w in self.layer.weights]
        trainable = [w.numpy() for w in self.layer.trainable_weights]
        eye = np.eye(self.batch, dtype=np.float32)
        core = self.model._compiled_core(training=True)
        out_size = int(np.prod(self.model.output_shape[1:]))
        pred = np.empty((self.batch, out_size), np.float32)
        index = np.arange(self.batch, dtype=np.int64)
        dummy = np.zeros((self.batch, out_size), np.float32)
        core.train_step(eye, dummy, None, index, 0, self.batch, 0.0, 1, 1, pred)  # lr 0: only the forward matters
        self.layer.set_weights(before)  # undo the moving-statistics update of that first step
        g = np.asarray(upstream, np.float64).reshape(self.batch, -1)
        target = (pred.astype(np.float64) - g * (g.size / 2.0)).astype(np.float32)
        core.train_step(eye, target, None, index, 0, self.batch, LR, 2, 1, pred)
        dx = (x.reshape(self.batch, -1).astype(np.float64) - self.feed.kernel.value) / LR
        dws = [(w0.astype(np.float64) - w1.value) / LR for w0, w1 in zip(trainable, self.layer.trainable_weights)]
        y = pred.reshape((self.batch, *self.layer.output_shape[1:]))
        return y, dx.reshape(x.shape), dws

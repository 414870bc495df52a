"""TEMPORARY (model branch only): minimal stand-ins for modules other helpers are writing (activations,
initializers, losses, optimizers, metrics, callbacks, utils, _summary), so Sequential runs end to end before they
land. Each piece is deleted as soon as the real module is merged."""
from __future__ import annotations

import numpy as np

_rng = np.random.default_rng(0)


# ---------------------------------------------------------------- utils
def global_rng():
    return _rng


def next_seed():
    return int(_rng.integers(0, 2**31 - 1))


def set_random_seed(seed):
    global _rng
    _rng = np.random.default_rng(seed)


# ---------------------------------------------------------------- activations
def _named(name):
    def fn(x):
        raise NotImplementedError
    fn.__name__ = name
    fn._core_kind = name
    return fn


_ACTS = {n: _named(n) for n in ("linear", "relu", "leaky_relu", "elu", "sigmoid", "tanh", "softmax")}


def activation_get(identifier):
    if identifier is None:
        return _ACTS["linear"]
    if callable(identifier):
        return identifier
    if identifier not in _ACTS:
        raise ValueError(f"Could not interpret activation function identifier: {identifier}")
    return _ACTS[identifier]


# ---------------------------------------------------------------- initializers
def initializer_get(identifier):
    if callable(identifier):
        return identifier
    if identifier == "zeros":
        return lambda shape, dtype=None: np.zeros(shape, np.float32)
    if identifier == "ones":
        return lambda shape, dtype=None: np.ones(shape, np.float32)

    def glorot(shape, dtype=None):
        fan_in = shape[-2] * int(np.prod(shape[:-2])) if len(shape) > 1 else shape[0]
        fan_out = shape[-1] * int(np.prod(shape[:-2])) if len(shape) > 1 else shape[0]
        limit = np.sqrt(6.0 / (fan_in + fan_out))
        return _rng.uniform(-limit, limit, shape).astype(np.float32)
    return glorot


# ---------------------------------------------------------------- losses
class Loss:
    def __init__(self, kind, from_logits=False):
        self._kind, self.from_logits, self.name = kind, from_logits, kind

    def _core_spec(self):
        return dict(kind=self._kind, from_logits=self.from_logits, label_smoothing=0.0, delta=1.0)


def loss_get(identifier):
    if not isinstance(identifier, str):
        return identifier
    return Loss({"mean_squared_error": "mse", "mean_absolute_error": "mae"}.get(identifier, identifier))


# ---------------------------------------------------------------- optimizers
class Optimizer:
    def __init__(self, kind, learning_rate, **hyper):
        self.kind, self.learning_rate, self.hyper, self.iterations = kind, learning_rate, hyper, 0
        self._slots = []

    def build(self, variables):
        n = {"sgd": 1 if self.hyper.get("momentum") else 0, "adam": 2, "rmsprop": 1}[self.kind]
        self._slots = [[np.zeros_like(v) for _ in range(n)] for v in variables]

    def slot_arrays(self):
        return self._slots

    def current_learning_rate(self):
        return self.learning_rate

    def _core_spec(self):
        return dict(kind=self.kind, **self.hyper)


def SGD(learning_rate=0.01, momentum=0.0):
    return Optimizer("sgd", learning_rate, momentum=momentum)


def Adam(learning_rate=0.001):
    return Optimizer("adam", learning_rate, beta_1=0.9, beta_2=0.999, epsilon=1e-7)


def optimizer_get(identifier):
    if not isinstance(identifier, str):
        return identifier
    return {"sgd": SGD, "adam": Adam, "rmsprop": lambda: Optimizer("rmsprop", 0.001)}[identifier]()


# ---------------------------------------------------------------- metrics
class Metric:
    def __init__(self, name):
        self.name = name
        self.reset_state()

    def reset_state(self):
        self.total = self.count = 0.0


class BinaryAccuracy(Metric):
    threshold = 0.5


class CategoricalAccuracy(Metric):
    pass


class SparseCategoricalAccuracy(Metric):
    pass


def metric_get(identifier, loss=None):
    if identifier in ("accuracy", "acc"):
        kind = getattr(loss, "_kind", "")
        cls = {"binary_crossentropy": BinaryAccuracy, "sparse_categorical_crossentropy": SparseCategoricalAccuracy}.get(
            kind, CategoricalAccuracy)
        return cls("accuracy")
    raise ValueError(f"Unknown metric {identifier}")


# ---------------------------------------------------------------- callbacks
class Callback:
    def __init__(self):
        self.model = None
        self.params = {}

    def set_model(self, model):
        self.model = model

    def set_params(self, params):
        self.params = params

    def __getattr__(self, name):
        if name.startswith("on_"):
            return lambda *a, **k: None
        raise AttributeError(name)


class History(Callback):
    def on_train_begin(self, logs=None):
        self.epoch, self.history = [], {}

    def on_epoch_end(self, epoch, logs=None):
        self.epoch.append(epoch)
        for k, v in (logs or {}).items():
            self.history.setdefault(k, []).append(v)


class CallbackList:
    def __init__(self, callbacks=None, add_history=False, add_progbar=False, model=None, **params):
        self.callbacks = list(callbacks or [])
        if add_history:
            h = History()
            model.history = h
            self.callbacks.append(h)
        for cb in self.callbacks:
            cb.set_model(model)
            cb.set_params(params)

    def __getattr__(self, name):
        if name.startswith("on_"):
            def call(*args):
                for cb in self.callbacks:
                    getattr(cb, name)(*args)
            return call
        raise AttributeError(name)


def format_summary(model_name, rows, total, trainable, non_trainable, extra_column, **kwargs):
    lines = [f'Model: "{model_name}"'] + [" | ".join(str(c) for c in row) for row in rows]
    lines += [f"Total params: {total:,}", f"Trainable params: {trainable:,}",
              f"Non-trainable params: {non_trainable:,}"]
    return "\n".join(lines)

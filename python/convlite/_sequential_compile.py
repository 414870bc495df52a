"""Sequential's compile(): the loss, its weight, the optimizer and the metrics (Keras 3's rules, 'accuracy' resolved
from the data's shapes), and how they are handed to the C++ model; kept apart from the layer, training and
inference plumbing in models.py."""
from __future__ import annotations

import copy

import numpy as np

LOSS_KINDS = ("binary_crossentropy", "categorical_crossentropy", "sparse_categorical_crossentropy", "mse", "mae",
              "huber")
ACCURACY_KINDS = {"BinaryAccuracy": 1, "CategoricalAccuracy": 2, "SparseCategoricalAccuracy": 3}


def _module(name):
    from .models import _module as module  # models imports this file

    return module(name)


class SequentialCompile:
    """Mixed into ``convlite.Sequential``: compile() and the metric bookkeeping the training loops read."""

    def compile(self, optimizer="rmsprop", loss=None, metrics=None, loss_weights=None, weighted_metrics=None,
                run_eagerly=False, steps_per_execution=1, jit_compile="auto", auto_scale_loss=True):
        losses, optimizers, metrics_mod = _module("losses"), _module("optimizers"), _module("metrics")
        if loss is None:
            raise ValueError("convlite needs a loss to compile a model for training. Received: loss=None")
        self.loss = losses.get(loss)
        kind = self.loss._core_spec()["kind"]
        if kind not in LOSS_KINDS:
            raise ValueError(f"Loss kind {kind!r} cannot be compiled. Allowed: {LOSS_KINDS}. Received: loss={loss!r}")
        self.optimizer = optimizers.get(optimizer)
        self._loss_weight = _single_loss_weight(loss_weights)
        self._loss_weights_spec = _plain_numbers(loss_weights)  # as given (JSON numbers), for the saved config
        if metrics is not None and not isinstance(metrics, (list, tuple)):
            raise TypeError(f"Type of `metrics` argument not understood. Expected a list or tuple. "
                            f"Received: metrics={metrics!r}")
        if weighted_metrics is not None and not isinstance(weighted_metrics, (list, tuple)):
            raise TypeError(f"Type of `weighted_metrics` argument not understood. Expected a list or tuple. "
                            f"Received: weighted_metrics={weighted_metrics!r}")
        # Keras's names (CompileMetrics.result): a repeated metric name gets _1, _2, ...; a weighted metric whose
        # name is taken becomes weighted_<name> (then _1, ...). evaluate's list still looks each up by its first
        # name (_flat_name), as Keras's _flatten_metrics_in_order does.
        counters = {}
        self._metrics = [_named(_compiled_metric(metrics_mod, m, self.loss), m, counters, False) for m in metrics or []]
        self._weighted_metrics = [_named(_compiled_metric(metrics_mod, m, self.loss), m, counters, True)
                                  for m in weighted_metrics or []]
        self._weighted_metrics_spec = list(weighted_metrics) if weighted_metrics is not None else None  # for saving
        self._sort_metrics()
        self._optimizer_built_for = None
        self._core = None
        self.compiled = True

    def _sort_metrics(self):
        """Which accuracy the C++ step counts (the first unweighted one) and which metrics Python updates."""
        self._cpp_metric = next((m for m in self._metrics if type(m).__name__ in ACCURACY_KINDS), None)
        self._all_metrics = self._metrics + self._weighted_metrics
        self._py_metrics = [m for m in self._all_metrics if m is not self._cpp_metric]

    def _resolve_metrics_by_shape(self, y_shape):
        """'accuracy' / 'acc' become Binary / SparseCategorical / CategoricalAccuracy from the shapes of the first
        y and of the output, as Keras 3 resolves them when its compiled metrics are built (compile_utils
        get_metric); until then they are a provisional pick from the loss."""
        pending = [m for m in self._all_metrics if getattr(m, "_by_shape", None)]
        if not pending:
            return
        metrics_mod = _module("metrics")
        y_pred_shape = (None,) + tuple(self._output_shape[1:])

        def resolved(metric):
            if not getattr(metric, "_by_shape", None):
                return metric
            fresh = metrics_mod.get(metric._by_shape, y_true=tuple(y_shape), y_pred=y_pred_shape)
            if type(fresh) is type(metric):
                metric._by_shape = None
                return metric
            for flag in ("_weighted", "_flat_name"):
                if hasattr(metric, flag):
                    setattr(fresh, flag, getattr(metric, flag))
            fresh.name = metric.name
            return fresh

        self._metrics = [resolved(m) for m in self._metrics]
        self._weighted_metrics = [resolved(m) for m in self._weighted_metrics]
        self._sort_metrics()
        if self._core is not None:
            cpp = self._cpp_metric
            self._core.set_accuracy(ACCURACY_KINDS[type(cpp).__name__] if cpp is not None else 0,
                                    float(getattr(cpp, "threshold", 0.5)))

    def _configure_training(self, core, output_shape=None):
        """Loss, accuracy and optimizer of a new C++ model whose output has `output_shape` (default: the model's;
        a model with unknown input sizes passes the concrete one of the data)."""
        spec = self.loss._core_spec()
        kind = spec["kind"]
        output_shape = self._output_shape if output_shape is None else output_shape
        label_size = 1 if kind == "sparse_categorical_crossentropy" else int(np.prod(output_shape[1:]))
        core.set_loss(LOSS_KINDS.index(kind), bool(spec.get("from_logits", False)),
                      float(spec.get("label_smoothing", 0.0)), float(spec.get("delta", 1.0)), label_size)
        core.set_loss_weight(getattr(self, "_loss_weight", 1.0))
        if self._cpp_metric is not None:
            core.set_accuracy(ACCURACY_KINDS[type(self._cpp_metric).__name__],
                              float(getattr(self._cpp_metric, "threshold", 0.5)))
        slots = self._build_optimizer_slots()
        core.set_optimizer(dict(self.optimizer._core_spec()), [list(s) for s in slots])
        self._configure_penalties(core)

    def _build_optimizer_slots(self):
        """The optimizer's state arrays for the trainable weights (built once; every compiled model shares them)."""
        variables = [v.value for layer in self._layers for v in layer.weights
                     if not v._always_frozen and self._is_trainable(layer)]
        ids = [id(v) for v in variables]
        if self._optimizer_built_for != ids:
            # Built by the user for these very arrays (optimizer.build(model.trainable_variables), then
            # load_weights restoring its state, as in Keras): keep that state.
            if not (self.optimizer.built and [id(v) for v in self.optimizer._variables] == ids):
                self.optimizer.build(variables)
            self._optimizer_built_for = ids
        return self.optimizer.slot_arrays()

    def _configure_penalties(self, core):
        """Weight regularizers and constraints, by parameter index (the order of core.set_trainable); the step
        skips frozen ones, as Keras's regularization losses and constraint updates cover trainable weights only."""
        from .regularizers import trained_factors

        index = 0
        for layer in self._layers:
            for v in layer.weights:
                if v._always_frozen:
                    continue
                reg, con = getattr(v, "regularizer", None), getattr(v, "constraint", None)
                if reg is not None:
                    core.set_param_regularization(index, *trained_factors(reg, v.path))
                if con is not None:
                    kind, reduce, low, high, rate, rest = con._core_args(v.shape)
                    core.set_param_constraint(index, kind, list(v.shape), reduce, low, high, rate, rest)
                index += 1

    def _require_compiled(self, what):
        if not self.compiled:
            raise ValueError(f"You must call `compile()` before using the model for {what}.")


def _named(metric, identifier, counters, weighted):
    """`metric` under the name Keras's compiled metrics give it, given the names taken so far (`counters`)."""
    name = metric.name
    if name not in counters:
        counters[name] = 1
        new_name = name
    elif not weighted:
        new_name = f"{name}_{counters[name]}"
        counters[name] += 1
    else:
        new_name = f"weighted_{name}"
        if new_name not in counters:
            counters[new_name] = 1
        else:
            counters[new_name] += 1
            new_name = f"{new_name}_{counters[new_name] - 1}"
    if new_name != name or weighted:
        if metric is identifier:  # renamed or marked: leave the user's object (maybe also listed elsewhere) alone
            metric = copy.deepcopy(metric)
        metric._flat_name = name
        metric.name = new_name
    if weighted:
        metric._weighted = True
    return metric


def _compiled_metric(metrics_mod, identifier, loss):
    """A metric of compile(); 'accuracy' / 'acc' are provisional (from the loss, else categorical) until the first
    y is seen (Sequential._resolve_metrics_by_shape)."""
    if not (isinstance(identifier, str) and identifier.lower() in ("accuracy", "acc")):
        return metrics_mod.get(identifier, loss=loss)
    try:
        metric = metrics_mod.get(identifier, loss=loss)
    except ValueError:  # a loss that does not name the accuracy: the shapes will
        metric = metrics_mod.CategoricalAccuracy(name=identifier)
    metric._by_shape = identifier
    return metric


def _single_loss_weight(loss_weights):
    """The one weight of compile(loss_weights=...) for a single-output model, checked as Keras's CompileLoss does:
    a float, or a list / tuple / dict holding one number (an int alone is refused there too)."""
    if loss_weights is None or (not loss_weights and not isinstance(loss_weights, (list, tuple, dict))):
        return 1.0 if loss_weights is None else float(loss_weights)
    if not isinstance(loss_weights, (list, tuple, dict, float)):
        raise ValueError("Expected `loss_weights` argument to be a float (single output case) or a list, tuple, or "
                         f"dict (multiple output case). Received instead: loss_weights={loss_weights!r} of type "
                         f"{type(loss_weights)}")
    if isinstance(loss_weights, float):
        return float(loss_weights)
    values = list(loss_weights.values()) if isinstance(loss_weights, dict) else list(loss_weights)
    if len(values) != 1:
        raise ValueError(f"`loss_weights` must match the number of losses, got 1 losses and {len(values)} weights. "
                         f"Received: loss_weights={loss_weights!r}")
    weight = values[0]
    if isinstance(weight, bool) or not isinstance(weight, (int, float, np.integer, np.floating)):
        raise ValueError(f"A loss weight must be a number. Received: loss_weights={loss_weights!r}")
    return float(weight)


def _plain_numbers(loss_weights):
    if isinstance(loss_weights, dict):
        return {str(k): float(v) for k, v in loss_weights.items()}
    if isinstance(loss_weights, (list, tuple)):
        return [float(v) for v in loss_weights]
    return None if loss_weights is None else float(loss_weights)

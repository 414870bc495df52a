"""The fit / evaluate / predict loops of Sequential (Keras semantics, one C++ call per batch).

Per batch Python does only bookkeeping: pick the index range, call ``core.train_step`` (which gathers the rows,
runs forward/loss/backward/accuracy/update in C++ with the GIL released), accumulate the running means Keras
reports, and fire the callbacks' batch hooks -- skipped entirely when no callback overrides them.
"""
from __future__ import annotations

import numpy as np

from . import _fit_data as fd
from .models import _module


class _Trackers:
    """Keras's running metrics over one epoch/evaluation: the loss (sample-weighted per batch) averaged by batch size;
    the `metrics=` of compile unweighted, as Keras 3 updates them without sample weights; `weighted_metrics=`
    weighted.

    The C++ step's accuracy counts sample weights, so with weighted data every metric runs in Python instead."""

    def __init__(self, model, data):
        self.model = model
        weighted = data.sw is not None
        self.cpp_metric = None if weighted else model._cpp_metric
        self.py_metrics = model._all_metrics if weighted else model._py_metrics
        self.reset()

    def reset(self):
        self.loss_sum = 0.0
        self.count = 0
        self.correct = 0.0
        self.weight = 0.0
        for m in self.py_metrics:
            m.reset_state()

    def update(self, result, count, y_batch=None, pred=None, sw_batch=None):
        loss, correct, weight = result
        self.loss_sum += loss * count
        self.count += count
        self.correct += correct
        self.weight += weight
        for m in self.py_metrics:
            m.update_state(y_batch, pred, sample_weight=sw_batch if getattr(m, "_weighted", False) else None)

    def logs(self):
        """Keras's logs: metric names and 'loss', sorted by name (history keys read accuracy, loss, mae)."""
        logs = {}
        for m in self.model._all_metrics:
            if m is self.cpp_metric:
                logs[m.name] = self.correct / self.weight if self.weight else 0.0
            else:  # a per-class result (F1Score(average=None)) stays an array, as in Keras's logs
                result = np.asarray(m.result())
                logs[m.name] = float(result) if result.ndim == 0 else result.astype(np.float32)
        logs["loss"] = self.loss_sum / self.count if self.count else 0.0
        return dict(sorted(logs.items()))


def _overrides(callbacks, hook):
    """True when some callback does something in `hook` (the base Callback's hooks do nothing), including hooks
    set on the instance (LambdaCallback)."""
    base = getattr(_module("callbacks").Callback, hook)
    for cb in callbacks.callbacks:
        fn = getattr(cb, hook, None)
        if getattr(fn, "__func__", fn) is not base:
            return True
    return False


class _Data:
    """x, y, sample_weight prepared once (float32, contiguous, checked) plus a scratch predictions buffer."""

    def __init__(self, model, x, y, sample_weight, class_weight=None):
        model._ensure_built(np.shape(x)[1:] if x is not None and np.ndim(x) else None)
        self.x = fd.check_input(x, model._input_layer.shape, model.name)
        self.n = self.x.shape[0]
        # The compiled model to run (None: the model's one; x's per-sample shape when the input has unknown sizes)
        # and the output shape it gives for this data.
        if model._variable_input:
            self.core_shape = model._data_shape(self.x)
            self.out_shape = tuple(model._output_shape_for(self.core_shape)[1:])
        else:  # (inline: this runs per batch of a generator)
            self.core_shape, self.out_shape = None, tuple(model._output_shape[1:])
        kind = model.loss._core_spec()["kind"]
        if y is None:
            raise ValueError("Argument `y` (the targets) is required to train or evaluate. Received: y=None")
        model._resolve_metrics_by_shape(np.shape(y))
        self.y = fd.prepare_labels(y, self.n, kind, self.out_shape)
        self.sw = fd.prepare_sample_weight(sample_weight, class_weight, self.y, self.n, kind)
        # Keras applies class_weight to the training data only: a validation split keeps the plain sample weights.
        self.plain_sw = self.sw if class_weight is None else \
            fd.prepare_sample_weight(sample_weight, None, self.y, self.n, kind)
        self.x2 = self.x.reshape(self.n, -1)
        self.need_pred = bool(model._py_metrics) or (self.sw is not None and model._cpp_metric is not None)

    def subset(self, part, validation=False):
        clone = object.__new__(_Data)
        clone.__dict__.update(self.__dict__)
        clone.x, clone.y = self.x[part], self.y[part]
        sw = self.plain_sw if validation else self.sw
        clone.sw = clone.plain_sw = None if sw is None else sw[part]
        clone.n = clone.x.shape[0]
        clone.x2 = clone.x.reshape(clone.n, -1)
        return clone

    def batch_extras(self, index, start, stop, pred_buffer, model):
        if not self.need_pred:
            return None, None, None
        rows = index[start:stop]
        pred = pred_buffer[: stop - start].reshape((stop - start,) + self.out_shape)
        y = self.y[rows]
        return y, pred, None if self.sw is None else self.sw[rows]


def reject_steps(**kwargs):
    """With numpy arrays the number of steps always follows from the data and batch size (generators and datasets
    take steps: _fit_batches)."""
    for name, value in kwargs.items():
        if value is not None:
            what = "validation_data" if name == "validation_steps" else "x"
            raise ValueError(f"`{name}` applies when `{what}` is a generator or dataset: with numpy arrays the steps "
                             f"follow from the number of samples and `batch_size`. Received: {name}={value!r}")


def _predictions_buffer(model, data, batch_size):
    if not data.need_pred:
        return None
    return np.empty((min(batch_size, data.n), int(np.prod(data.out_shape))), np.float32)


def _should_validate(epoch, validation_freq):
    """Keras's _should_eval: every validation_freq-th epoch, or the 1-based epochs a list names."""
    if isinstance(validation_freq, list):
        return epoch + 1 in validation_freq
    return (epoch + 1) % validation_freq == 0


def _check_validation_freq(validation_freq):
    """Checked before the first epoch (a list used to fail after it had trained)."""
    if isinstance(validation_freq, list):
        if all(isinstance(e, (int, np.integer)) and not isinstance(e, bool) for e in validation_freq):
            return
    elif isinstance(validation_freq, (int, np.integer)) and not isinstance(validation_freq, bool) and \
            validation_freq > 0:
        return
    raise ValueError("Expected `validation_freq` to be a list of epochs or a positive int. "
                     f"Received: validation_freq={validation_freq!r} of the type {type(validation_freq)}.")


def check_epochs(epochs):
    if isinstance(epochs, bool) or not isinstance(epochs, (int, np.integer)) or epochs < 0:
        raise ValueError(f"Argument `epochs` must be a non-negative integer. Received: epochs={epochs!r}")


def run_fit(model, x, y, batch_size, epochs, verbose, callbacks, validation_split, validation_data, shuffle,
            class_weight, sample_weight, initial_epoch, validation_batch_size, validation_freq, validation_steps=None):
    model._require_compiled("training (fit)")
    batch_size = fd.check_batch_size(batch_size)
    verbose = fd.check_verbose(verbose)
    check_epochs(epochs)
    _check_validation_freq(validation_freq)
    data = _Data(model, x, y, sample_weight, class_weight)
    from ._fit_batches import validate, validation_source  # a generator or dataset as validation_data

    val = None
    val_source = validation_source(validation_data, validation_steps)
    if val_source is None and validation_steps is not None:
        reject_steps(validation_steps=validation_steps)
    if validation_data is not None:
        if val_source is None:
            vx, vy, vsw = fd.unpack_validation_data(validation_data)
            val = _Data(model, vx, vy, vsw)
    elif validation_split:
        train_part, val_part = fd.split_validation([np.arange(data.n)], validation_split)
        val = data.subset(val_part[0], validation=True)
        data = data.subset(train_part[0])
    core = model._compiled_core(training=True, sample_shape=data.core_shape)
    steps = -(-data.n // batch_size)
    cbs = _module("callbacks").CallbackList(callbacks, add_history=True, add_progbar=verbose != 0, model=model,
                                            verbose=verbose, epochs=epochs, steps=steps)
    batch_begin = _overrides(cbs, "on_train_batch_begin") or _overrides(cbs, "on_batch_begin")
    batch_end = _overrides(cbs, "on_train_batch_end") or _overrides(cbs, "on_batch_end")
    trackers = _Trackers(model, data)
    pred_buffer = _predictions_buffer(model, data, batch_size)
    rng = _module("utils").global_rng()
    model.stop_training = False
    cbs.on_train_begin()
    epoch_logs = {}
    for epoch in range(initial_epoch, epochs):
        trackers.reset()
        cbs.on_epoch_begin(epoch)
        index = rng.permutation(data.n).astype(np.int64) if shuffle else np.arange(data.n, dtype=np.int64)
        logs = {}
        for step in range(steps):
            if batch_begin:
                cbs.on_train_batch_begin(step)
            start, stop = step * batch_size, min(data.n, (step + 1) * batch_size)
            result = train_batch(model, core, data, index, start, stop, pred_buffer)
            trackers.update(result, stop - start, *data.batch_extras(index, start, stop, pred_buffer, model))
            if batch_end:
                logs = trackers.logs()
                cbs.on_train_batch_end(step, logs)
            if model.stop_training:
                break
        epoch_logs = trackers.logs()
        if val_source is not None and _should_validate(epoch, validation_freq):
            epoch_logs.update(validate(model, val_source, validation_steps, cbs))
        elif val is not None and _should_validate(epoch, validation_freq):
            val_logs = _evaluate_data(model, val, validation_batch_size or batch_size, cbs)
            epoch_logs.update({f"val_{k}": v for k, v in val_logs.items()})
        cbs.on_epoch_end(epoch, epoch_logs)
        if model.stop_training:
            break
    cbs.on_train_end(epoch_logs)
    return model.history


def train_batch(model, core, data, index, start, stop, pred_buffer):
    """One optimizer step in C++ on rows index[start:stop] of `data`: the optimizer's iteration count and the
    dropout stream advance by one, as Keras's train step does."""
    optimizer = model.optimizer
    iteration = int(optimizer.iterations)
    model._dropout_step += 1
    result = core.train_step(data.x2, data.y, data.sw, index, start, stop, float(optimizer.current_learning_rate()),
                             iteration + 1, model._dropout_step, pred_buffer)
    optimizer.iterations = iteration + 1
    return result


def _evaluate_data(model, data, batch_size, cbs):
    core = model._compiled_core(sample_shape=data.core_shape)
    trackers = _Trackers(model, data)
    index = np.arange(data.n, dtype=np.int64)
    pred_buffer = _predictions_buffer(model, data, batch_size)
    steps = -(-data.n // batch_size)
    batch_hooks = _overrides(cbs, "on_test_batch_end") or _overrides(cbs, "on_test_batch_begin")
    cbs.on_test_begin()
    for step in range(steps):
        if batch_hooks:
            cbs.on_test_batch_begin(step)
        start, stop = step * batch_size, min(data.n, (step + 1) * batch_size)
        result = core.test_step(data.x2, data.y, data.sw, index, start, stop, pred_buffer)
        trackers.update(result, stop - start, *data.batch_extras(index, start, stop, pred_buffer, model))
        if batch_hooks:
            cbs.on_test_batch_end(step, trackers.logs())
    logs = trackers.logs()
    cbs.on_test_end(logs)
    return logs


def _ordered(model, logs):
    """Keras's _flatten_metrics_in_order: loss, then each metric by its own name (a weighted metric renamed
    weighted_<name> is looked up as <name>, so Keras lists that value twice), then the remaining keys sorted."""
    names = ["loss"] + [getattr(m, "_flat_name", m.name) for m in model._all_metrics]
    return [logs[n] for n in names if n in logs] + [logs[k] for k in sorted(logs) if k not in names]


def run_evaluate(model, x, y, batch_size, verbose, sample_weight, callbacks, return_dict):
    model._require_compiled("evaluation (evaluate)")
    batch_size = fd.check_batch_size(batch_size)
    verbose = fd.check_verbose(verbose)
    data = _Data(model, x, y, sample_weight)
    steps = -(-data.n // batch_size)
    cbs = _module("callbacks").CallbackList(callbacks, add_progbar=verbose != 0, model=model, verbose=verbose,
                                            epochs=1, steps=steps)
    return evaluate_result(model, _evaluate_data(model, data, batch_size, cbs), return_dict)


def evaluate_result(model, logs, return_dict):
    """What evaluate returns: the logs dict, or Keras's list (loss first; a lone value unwrapped)."""
    if return_dict:
        return logs
    values = _ordered(model, logs)
    return values[0] if len(values) == 1 else values


def run_predict(model, x, batch_size, verbose, callbacks):
    batch_size = fd.check_batch_size(batch_size)
    verbose = fd.check_verbose(verbose)
    model._ensure_built(np.shape(x)[1:] if x is not None and np.ndim(x) else None)
    x = fd.check_input(x, model._input_layer.shape, model.name)
    sample_shape = model._data_shape(x)
    out_shape = model._output_shape_for(sample_shape)
    core = model._compiled_core(sample_shape=sample_shape)
    n = x.shape[0]
    if not callbacks and verbose == 0:
        # Nothing would observe the hooks (no callback, no progress bar): skip building the CallbackList, about half
        # of a small model's per-call time in a `predict(x, verbose=0)` loop.
        return core.predict(x.reshape(n, -1), batch_size).reshape((n,) + tuple(out_shape[1:]))
    steps = -(-n // batch_size)
    cbs = _module("callbacks").CallbackList(callbacks, add_progbar=verbose != 0, model=model, verbose=verbose,
                                            epochs=1, steps=steps)
    x2 = x.reshape(n, -1)
    cbs.on_predict_begin()
    if _overrides(cbs, "on_predict_batch_end") or _overrides(cbs, "on_predict_batch_begin"):
        parts = []
        for step in range(steps):
            cbs.on_predict_batch_begin(step)
            part = core.predict(x2[step * batch_size:(step + 1) * batch_size], batch_size)
            parts.append(part)
            cbs.on_predict_batch_end(step, {"outputs": part})
        out = np.concatenate(parts)
    else:
        out = core.predict(x2, batch_size)  # every batch inside one C++ call
        cbs.on_predict_batch_end(steps - 1, {"outputs": out[-1:]})
    cbs.on_predict_end()
    return out.reshape((n,) + tuple(out_shape[1:]))


def run_on_batch(model, x, y, sample_weight, class_weight, training):
    """One batch through the C++ step (training or not); returns its logs."""
    model._require_compiled("train_on_batch" if training else "test_on_batch")
    data = _Data(model, x, y, sample_weight, class_weight)
    core = model._compiled_core(training=training, sample_shape=data.core_shape)
    trackers = _Trackers(model, data)
    index = np.arange(data.n, dtype=np.int64)
    pred_buffer = _predictions_buffer(model, data, data.n)
    if training:
        result = train_batch(model, core, data, index, 0, data.n, pred_buffer)
    else:
        result = core.test_step(data.x2, data.y, data.sw, index, 0, data.n, pred_buffer)
    trackers.update(result, data.n, *data.batch_extras(index, 0, data.n, pred_buffer, model))
    return trackers.logs()


def summary_text(model, line_length=None, positions=None, show_trainable=False):
    """Keras's summary table plus a FLOPs column (forward FLOPs per sample). A model with no input shape yet is
    listed unbuilt, as Keras lists it: shapes '?', parameters '0 (unbuilt)'. Sizes the input leaves unknown
    (Input((None, C))) print as None, as in Keras, and a layer whose FLOPs depend on them shows '?'."""
    if not model.built and model._input_shape() is None:
        rows = [(f"{layer.name} ({type(layer).__name__})", None, None, None) for layer in model._layers]
        marks = ["-"] * len(rows) if show_trainable else None  # no weights yet
        return _module("_summary").format_summary(model.name, rows, 0, 0, 0, "FLOPs", line_length=line_length,
                                                  trainable_marks=marks, positions=positions)
    model._ensure_built()
    rows = []
    shape = (None,) + tuple(model._input_layer.shape)
    total_flops = 0
    for layer in model._layers:
        out = layer.compute_output_shape(shape)
        # FLOPs per sample grow with the input's size: '?' where a size is unknown (Input((None, C))).
        flops = "?" if None in shape[1:] else layer._flops(shape)
        total_flops += 0 if flops == "?" else flops
        rows.append((f"{layer.name} ({type(layer).__name__})", tuple(out), layer.count_params(), flops))
        shape = out
    trainable = sum(v.value.size for v in model.trainable_weights)
    non_trainable = sum(v.value.size for v in model.non_trainable_weights)
    optimizer = model.optimizer if model.compiled else None
    optimizer_params = None
    if optimizer is not None and getattr(optimizer, "built", False):
        optimizer_params = int(sum(np.size(v) for v in optimizer.variables))
    total = trainable + non_trainable + (optimizer_params or 0)
    marks = None
    if show_trainable:  # Keras: Y / N for a layer with weights, '-' for one without
        marks = [("Y" if layer.trainable else "N") if layer.weights else "-" for layer in model._layers]
    return _module("_summary").format_summary(model.name, rows, total, trainable, non_trainable, "FLOPs",
                                              line_length=line_length, optimizer_params=optimizer_params,
                                              trainable_marks=marks, positions=positions)

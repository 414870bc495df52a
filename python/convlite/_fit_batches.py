"""fit / evaluate / predict over batches from Python: a generator or iterator, or an object with ``__len__`` and
``__getitem__`` (Keras's ``PyDataset``, a ``keras.utils.Sequence``, or any class of that shape).

Each batch is a tuple ``(x,)``, ``(x, y)`` or ``(x, y, sample_weight)``, as Keras requires (an indexed dataset may also
return a bare ``x``), and runs as one C++ step of the array path's kind, so a batch trains exactly as the same rows
would in ``fit(x, y, shuffle=False)`` with that batch size. Where these inputs differ from arrays, Keras's rules hold:
`y`, `sample_weight` and `validation_split` must not be passed (they come with the batches), nor `class_weight` with a
generator (a dataset's batches get it as sample weights, unless they carry their own), `batch_size` is ignored (the
source decides), `shuffle=True` (the default) shuffles a dataset's batch order each epoch (a generator's order is its
own), and `steps_per_epoch` / `validation_steps` / `steps` cap the batches.

A dataset is read as Keras 3's epoch iterator reads it: without `steps_per_epoch` every epoch is one whole pass;
with it, the pass carries on across epochs (epoch 2 starts where epoch 1 stopped), an epoch that reaches the end of
the pass stops there with Keras's "ran out of data" warning, and the next epoch starts a new pass (shuffled again).
Its ``on_epoch_end()`` runs after each training epoch; one without a length (``num_batches`` None) needs
`steps_per_epoch` rather than running forever. A generator is one stream: when an epoch gets fewer batches than it
asked for, training stops after it with the same warning (an epoch that gets none is not run at all, and an input
that yields no batch at all is a ValueError, as in Keras). `validation_data` may be a generator or dataset for any
`x`; validation reads it the same way, capped by `validation_steps`.
"""
from __future__ import annotations

import warnings

import numpy as np

from . import _fit_data as fd
from ._training import (_check_validation_freq, _Data, _evaluate_data, _overrides, _predictions_buffer,
                        _should_validate, _Trackers, check_epochs, evaluate_result, train_batch)
from .models import _module

_RAN_OUT = ("Your input ran out of data; interrupting training. Make sure that your dataset or generator can "
            "generate at least `steps_per_epoch * epochs` batches.")


def is_batch_source(x) -> bool:
    """True for a generator/iterator, or a dataset object with __len__ and __getitem__ that is not array-like."""
    if x is None or isinstance(x, (np.ndarray, list, tuple, dict, str, bytes)):
        return False
    if hasattr(x, "__next__"):
        return True
    array_like = hasattr(x, "__array__") or hasattr(x, "shape") or hasattr(x, "__array_interface__")
    sized = hasattr(x, "__len__") or hasattr(x, "num_batches")
    return hasattr(x, "__getitem__") and sized and not array_like


def _check_steps(value, name):
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
        raise ValueError(f"Argument `{name}` must be a positive integer or None. Received: {name}={value!r}")
    return int(value)


class _Source:
    """One batch source: yields (x, y, sample_weight) per batch, at most `steps` per epoch."""

    def __init__(self, obj, shuffle=False):
        self.obj = obj
        self.indexed = not hasattr(obj, "__next__")
        self.shuffle = shuffle and self.indexed
        self.length = None
        if self.indexed:  # Keras's PyDataset: num_batches (None: endless), else len()
            length = getattr(obj, "num_batches") if hasattr(obj, "num_batches") else len(obj)
            if length is not None and (isinstance(length, bool) or not isinstance(length, (int, np.integer))
                                       or length < 0):
                raise ValueError(f"A dataset's length (`num_batches` or `len()`) must be a non-negative integer or "
                                 f"None. Received: num_batches={length!r}")
            self.length = None if length is None else int(length)
        self._order, self._position = None, 0  # the current pass over a dataset (Keras's kept iterator)

    def steps(self, cap):
        return cap if cap is not None else self.length

    def check_ends(self, cap, name):
        if self.indexed and self.length is None and cap is None:
            raise ValueError(f"The dataset has no length (num_batches is None), so `{name}` must say how many "
                             f"batches to take. Received: {name}=None")

    def _unpack(self, batch):
        if isinstance(batch, tuple) and 1 <= len(batch) <= 3:
            return tuple(batch) + (None,) * (3 - len(batch))
        if self.indexed and not isinstance(batch, tuple):
            return batch, None, None
        kind = "dataset" if self.indexed else "generator"
        text = repr(batch)
        raise ValueError(f"When passing a Python {kind} to a convlite model, each batch must be a tuple, either "
                         f"(input,) or (inputs, targets) or (inputs, targets, sample_weights). Received: "
                         f"{text[:200] + '...' if len(text) > 200 else text}")

    def batches(self, cap):
        """This epoch's batches, unpacked; fewer than asked when the source (or a dataset's pass) runs out."""
        if self.indexed and self.length is None:  # endless dataset: batch i, counting on across epochs
            for _ in range(cap):
                self._position += 1
                yield self._unpack(self.obj[self._position - 1])
            return
        if self.indexed:
            if cap is None or self._order is None:  # a new pass
                self._order, self._position = np.arange(self.length), 0
                if self.shuffle:
                    self._order = _module("utils").global_rng().permutation(self._order)
            end = self.length if cap is None else min(self.length, self._position + cap)
            while self._position < end:
                self._position += 1
                yield self._unpack(self.obj[int(self._order[self._position - 1])])
            if self._position >= self.length:
                self._order = None
            return
        count = 0
        while cap is None or count < cap:
            try:
                batch = next(self.obj)
            except StopIteration:
                return
            count += 1
            yield self._unpack(batch)

    def end_epoch(self):
        if self.indexed and callable(getattr(self.obj, "on_epoch_end", None)):
            self.obj.on_epoch_end()


def _reject_with_source(kind, **args):
    """Keras's messages for arguments that must come with the batches instead."""
    for name, value in args.items():
        if value is None or (name == "validation_split" and not value):
            continue
        if name == "validation_split":
            raise ValueError("Argument `validation_split` is only supported for NumPy arrays. Found incompatible "
                             f"type in the input: [{kind}]")
        if name == "class_weight":
            raise ValueError(f"Argument `class_weight` is not supported for Python generator or dataset inputs. "
                             f"Received: class_weight={value!r}")
        label = "sample_weights" if name == "sample_weight" else name
        where = "the targets" if name == "y" else "the sample weights"
        raise ValueError(f"When providing `x` as a generator or dataset, `{label}` should not be passed. Instead, "
                         f"{where} should be included as part of each batch.")


class _BatchRunner:
    """Per-batch preparation shared by fit and evaluate: the checked data, its trackers and predictions buffer."""

    def __init__(self, model, class_weight=None):
        self.model = model
        self.class_weight = class_weight
        self.trackers = None
        self.weighted = None

    def prepare(self, x, y, sw):
        if self.class_weight is not None and sw is not None:
            raise ValueError("You cannot specify `class_weight` and `sample_weight` at the same time.")
        data = _Data(self.model, x, y, sw, self.class_weight)
        weighted = data.sw is not None
        if self.trackers is None:
            self.trackers, self.weighted = _Trackers(self.model, data), weighted
        elif weighted != self.weighted:
            raise ValueError("Every batch must have the same structure: the first batch "
                             f"{'had' if self.weighted else 'had no'} sample weights, a later one "
                             f"{'has' if weighted else 'has none'}.")
        return data, np.arange(data.n, dtype=np.int64), _predictions_buffer(self.model, data, data.n)

    def update(self, result, data, index, pred):
        self.trackers.update(result, data.n, *data.batch_extras(index, 0, data.n, pred, self.model))


def validation_source(validation_data, validation_steps):
    """A _Source for `validation_data` when it is a generator or dataset, else None."""
    if not is_batch_source(validation_data):
        return None
    source = _Source(validation_data)
    source.check_ends(_check_steps(validation_steps, "validation_steps"), "validation_steps")
    return source


def validate(model, source, steps, cbs):
    """The val_ logs of one validation over `source`; {} with Keras's warning when it has nothing left."""
    logs = _evaluate_source(model, source, _check_steps(steps, "validation_steps"), cbs)
    if logs is None:
        warnings.warn(_RAN_OUT.replace("training", "validation"), UserWarning, stacklevel=4)
        return {}
    source.end_epoch()
    return {f"val_{k}": v for k, v in logs.items()}


def _evaluate_source(model, source, steps, cbs):
    """The evaluation loop over a source; None when it yields no batch."""
    runner = _BatchRunner(model)
    hooks = _overrides(cbs, "on_test_batch_end") or _overrides(cbs, "on_test_batch_begin")
    cbs.on_test_begin()
    core = None
    for step, (x, y, sw) in enumerate(source.batches(steps)):
        if hooks:
            cbs.on_test_batch_begin(step)
        data, index, pred = runner.prepare(x, y, sw)
        if core is None or data.core_shape is not None:  # unknown input sizes: the model for this batch's shape
            core = model._compiled_core(sample_shape=data.core_shape)
        runner.update(core.test_step(data.x2, data.y, data.sw, index, 0, data.n, pred), data, index, pred)
        if hooks:
            cbs.on_test_batch_end(step, runner.trackers.logs())
    if runner.trackers is None:
        return None
    logs = runner.trackers.logs()
    cbs.on_test_end(logs)
    return logs


def run_fit(model, x, y, batch_size, epochs, verbose, callbacks, validation_split, validation_data, shuffle,
            class_weight, sample_weight, initial_epoch, steps_per_epoch, validation_steps, validation_batch_size,
            validation_freq):
    model._require_compiled("training (fit)")
    source = _Source(x, shuffle=shuffle)
    _reject_with_source(type(x).__name__, y=y, sample_weight=sample_weight, validation_split=validation_split,
                        class_weight=None if source.indexed else class_weight)
    verbose = fd.check_verbose(verbose)
    check_epochs(epochs)
    steps_per_epoch = _check_steps(steps_per_epoch, "steps_per_epoch")
    validation_steps = _check_steps(validation_steps, "validation_steps")
    _check_validation_freq(validation_freq)
    source.check_ends(steps_per_epoch, "steps_per_epoch")
    val_data = None
    val_source = validation_source(validation_data, validation_steps)
    if val_source is None and validation_data is not None:
        vx, vy, vsw = fd.unpack_validation_data(validation_data)
        val_data = _Data(model, vx, vy, vsw)
    cbs = _module("callbacks").CallbackList(callbacks, add_history=True, add_progbar=verbose != 0, model=model,
                                            verbose=verbose, epochs=epochs, steps=source.steps(steps_per_epoch))
    batch_begin = _overrides(cbs, "on_train_batch_begin") or _overrides(cbs, "on_batch_begin")
    batch_end = _overrides(cbs, "on_train_batch_end") or _overrides(cbs, "on_batch_end")
    runner = _BatchRunner(model, class_weight)
    model.stop_training = False
    cbs.on_train_begin()
    epoch_logs = {}
    core = None
    for epoch in range(initial_epoch, epochs):
        batches = source.batches(steps_per_epoch)
        first = next(batches, None)
        if first is None:  # nothing left: no empty epoch in the history
            if runner.trackers is None:
                raise ValueError(f"The input to fit yielded no batches. Received: x of type {type(x).__name__}")
            warnings.warn(_RAN_OUT, UserWarning, stacklevel=3)
            break
        if runner.trackers is not None:
            runner.trackers.reset()
        cbs.on_epoch_begin(epoch)
        step = 0
        for step, (bx, by, bsw) in enumerate(_chain(first, batches)):
            if batch_begin:
                cbs.on_train_batch_begin(step)
            data, index, pred = runner.prepare(bx, by, bsw)
            if core is None or data.core_shape is not None:  # unknown input sizes: the model for this shape
                core = model._compiled_core(training=True, sample_shape=data.core_shape)
            result = train_batch(model, core, data, index, 0, data.n, pred)
            runner.update(result, data, index, pred)
            if batch_end:
                cbs.on_train_batch_end(step, runner.trackers.logs())
            if model.stop_training:
                break
        epoch_logs = runner.trackers.logs()
        if _should_validate(epoch, validation_freq):
            if val_source is not None:
                epoch_logs.update(validate(model, val_source, validation_steps, cbs))
            elif val_data is not None:
                val_logs = _evaluate_data(model, val_data, fd.check_batch_size(validation_batch_size or batch_size), cbs)
                epoch_logs.update({f"val_{k}": v for k, v in val_logs.items()})
        source.end_epoch()
        cbs.on_epoch_end(epoch, epoch_logs)
        wanted = source.steps(steps_per_epoch)
        if wanted is not None and step + 1 < wanted and not model.stop_training:
            warnings.warn(_RAN_OUT, UserWarning, stacklevel=3)
            if not source.indexed:  # a generator cannot start again; a dataset starts a new pass next epoch
                break
        if model.stop_training:
            break
    cbs.on_train_end(epoch_logs)
    return model.history


def _chain(first, rest):
    yield first
    yield from rest


def _one_pass(model, x, verbose, steps, callbacks):
    """evaluate's and predict's source, checked step cap and callback list (one pass, one progress bar)."""
    verbose = fd.check_verbose(verbose)
    source = _Source(x)
    steps = _check_steps(steps, "steps")
    source.check_ends(steps, "steps")
    cbs = _module("callbacks").CallbackList(callbacks, add_progbar=verbose != 0, model=model, verbose=verbose,
                                            epochs=1, steps=source.steps(steps))
    return source, steps, cbs


def run_evaluate(model, x, y, verbose, sample_weight, steps, callbacks, return_dict):
    model._require_compiled("evaluation (evaluate)")
    _reject_with_source(type(x).__name__, y=y, sample_weight=sample_weight)
    source, steps, cbs = _one_pass(model, x, verbose, steps, callbacks)
    logs = _evaluate_source(model, source, steps, cbs)
    if logs is None:
        raise ValueError(f"The input to evaluate yielded no batches. Received: x of type {type(x).__name__}")
    return evaluate_result(model, logs, return_dict)


def run_predict(model, x, verbose, steps, callbacks):
    source, steps, cbs = _one_pass(model, x, verbose, steps, callbacks)
    cbs.on_predict_begin()
    parts = []
    for step, (bx, _, _) in enumerate(source.batches(steps)):
        cbs.on_predict_batch_begin(step)
        model._ensure_built(np.shape(bx)[1:] if np.ndim(bx) else None)
        bx = fd.check_input(bx, model._input_layer.shape, model.name)
        sample_shape = model._data_shape(bx)
        out_shape = model._output_shape_for(sample_shape)
        part = model._compiled_core(sample_shape=sample_shape).predict(bx.reshape(bx.shape[0], -1), bx.shape[0])
        parts.append(part.reshape((bx.shape[0],) + tuple(out_shape[1:])))
        cbs.on_predict_batch_end(step, {"outputs": parts[-1]})
    if not parts:
        raise ValueError(f"The input to predict yielded no batches. Received: x of type {type(x).__name__}")
    cbs.on_predict_end()
    return np.concatenate(parts)

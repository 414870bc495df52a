"""Sequential's smaller Keras 3 API: symbolic outputs, compute_output_shape, the metric objects Keras lists
(``model.metrics``), ``to_json``, and the constant attributes Keras models carry (dtype, run_eagerly, ...).
``clone_model`` and ``model_from_json`` (module functions of ``convlite.models``) are here too. Kept apart from the
training and inference plumbing in models.py."""
from __future__ import annotations

import warnings

from .layers.base import SymbolicTensor


class CompileMetrics:
    """What Keras lists as ``model.metrics[1]`` once metrics are compiled: one container named 'compile_metrics'
    whose ``metrics`` are the compiled metric objects (the live ones, after 'accuracy' is resolved by shape)."""

    def __init__(self, model):
        self._model = model
        self.name = "compile_metrics"

    @property
    def metrics(self):
        return list(getattr(self._model, "_all_metrics", []))

    def update_state(self, y_true, y_pred, sample_weight=None):
        for metric in self.metrics:
            metric.update_state(y_true, y_pred, sample_weight=sample_weight if getattr(metric, "_weighted", False)
                                else None)

    def result(self):
        return {metric.name: metric.result() for metric in self.metrics}

    def reset_state(self):
        for metric in self.metrics:
            metric.reset_state()

    def __repr__(self):
        return f"<CompileMetrics name={self.name}>"


def _set_result(metric, value):
    """Make a mean-type metric's result() read `value` (the C++ step counts accuracy and loss, not the objects)."""
    metric.reset_state()
    metric.total, metric.count = float(value), 1.0


class SequentialAPI:
    """Mixed into ``convlite.Sequential`` (first, so its ``metrics_names`` is Keras 3's)."""

    # Constant for convlite: float32 everywhere, one compiled C++ step per batch, no masking.
    dtype = compute_dtype = variable_dtype = input_dtype = "float32"
    run_eagerly = False
    jit_compile = False
    steps_per_execution = 1
    supports_masking = False

    # ---------------------------------------------------------------- symbolic inputs / outputs
    @property
    def input(self):
        """Keras's ``model.input``: the symbolic input (one tensor for a Sequential)."""
        inputs = self.inputs
        if inputs is None:
            raise AttributeError(f"Sequential model '{self.name}' has no defined input yet.")
        return inputs[0]

    @property
    def outputs(self):
        """Keras's ``model.outputs``: a one-element list with the symbolic output (shape with batch None)."""
        if self._input_shape() is None or not self._layers:
            raise AttributeError(f"Sequential model '{self.name}' has no defined outputs yet.")
        self._ensure_built()
        return [SymbolicTensor(self._output_shape, f"{self._layers[-1].name}_output")]

    @property
    def output(self):
        return self.outputs[0]

    def compute_output_shape(self, input_shape):
        """The output shape for `input_shape` (batch dimension included), layer by layer; a built model checks
        the input against its own, as Keras does."""
        shape = tuple(input_shape)
        expected = self._input_shape()
        if expected is not None and (len(shape) != len(expected) + 1 or
                                     any(d is not None and e is not None and d != e
                                         for d, e in zip(shape[1:], expected))):
            raise ValueError(f'Input 0 of layer "{self.name}" is incompatible with the layer: expected '
                             f"shape={(None,) + tuple(expected)}, found shape={shape}")
        for layer in self._layers:
            shape = tuple(layer.compute_output_shape(shape))
        return shape

    # ---------------------------------------------------------------- metrics
    def compile(self, *args, **kwargs):
        super().compile(*args, **kwargs)
        from .metrics import Mean

        self._loss_tracker = Mean(name="loss")
        self._compile_metrics = CompileMetrics(self)

    @property
    def metrics(self):
        """As Keras 3: [] before compile; then the loss tracker (a Mean named 'loss') and, when compile was given
        metrics, the 'compile_metrics' container. After fit / evaluate they hold the last run's results (the
        validation ones when fit validated last), as Keras's do."""
        if not self.compiled:
            return []
        metrics = [self._loss_tracker]
        if getattr(self, "_all_metrics", None):
            metrics.append(self._compile_metrics)
        return metrics

    @property
    def metrics_names(self):
        return [m.name for m in self.metrics]

    def reset_metrics(self):
        for metric in self.metrics:
            metric.reset_state()

    def get_metrics_result(self):
        """Keras's flat dict of the current metric results: loss first, then each compiled metric."""
        results = {}
        for metric in self.metrics:
            value = metric.result()
            results.update(value if isinstance(value, dict) else {metric.name: value})
        return results

    def _record_metric_logs(self, logs):
        """Called by the loops' CallbackList with each epoch's / evaluation's logs: the objects Python does not
        update batch by batch (the loss tracker and the accuracy the C++ step counts) are set to the results."""
        if not self.compiled or "loss" not in logs:
            return
        _set_result(self._loss_tracker, logs["loss"])
        cpp = getattr(self, "_cpp_metric", None)
        if cpp is not None and cpp.name in logs:
            _set_result(cpp, logs[cpp.name])

    # ---------------------------------------------------------------- build / compile configs, export
    def get_build_config(self):
        """Keras's build config: the batch input shape of a built model, else None."""
        if self._input_shape() is None:
            return None
        return {"input_shape": (None, *self._input_shape())}

    def build_from_config(self, config):
        shape = (config or {}).get("input_shape")
        if shape is not None:
            self.build(tuple(shape))

    def get_compile_config(self):
        """Keras's compile config (what ``to_json`` and ``.keras`` files hold); {} before compile, as Keras 3.15."""
        if not self.compiled:
            return {}
        from types import SimpleNamespace

        from .saving import _model

        # saving's compile_config reads model.get_compile_config when there is one: hand it the compile state only.
        state = SimpleNamespace(optimizer=self.optimizer, loss=self.loss, _metrics=self._metrics,
                                _weighted_metrics_spec=self._weighted_metrics_spec,
                                _loss_weights_spec=self._loss_weights_spec)
        return _model.compile_config(state)

    def compile_from_config(self, config):
        """Compile from a Keras compile config (``compile_config`` of a .keras file or of ``to_json()``)."""
        from .saving import _model

        _model.compile_from_config(self, config)

    def export(self, filepath, format="tf_saved_model", verbose=None, **kwargs):  # noqa: A002 - Keras's name
        raise ValueError("convlite cannot export a TensorFlow SavedModel / ONNX artifact (that needs TensorFlow's "
                         "graph machinery). Save a `.keras` file with `model.save(path)`: Keras loads it and can "
                         f"export it. Received: format={format!r}")

    # ---------------------------------------------------------------- JSON
    def to_json(self, **kwargs):
        """Keras's JSON of the model (``json.dumps`` keyword arguments pass through), as in a .keras file's
        config.json: ``keras.models.model_from_json`` reads it, and so does ``convlite.models.model_from_json``."""
        import json  # here, not at module level: `import convlite` stays as fast as numpy's own import

        return json.dumps(_keras_config(self), **kwargs)


def _keras_config(model):
    from .saving import _config, _model

    layers = _model.model_layers(model)
    if model._input_shape() is None:  # unbuilt: Keras writes the layers alone (no InputLayer, no build config)
        entries = [_config.layer_entry(_model.class_name(layer), _model.layer_config(layer), None)
                   for layer in layers]
        return {"module": "keras", "class_name": "Sequential",
                "config": {"name": model.name, "trainable": model.trainable, "dtype": dict(_config._FLOAT32_POLICY),
                           "layers": entries},
                "registered_name": None, "compile_config": _model.compile_config(model) or {}}
    model._ensure_built()
    shapes = _model.layer_input_shapes(model, layers)
    entries = [_config.layer_entry(_model.class_name(layer), _model.layer_config(layer), shape)
               for layer, shape in zip(layers, shapes)]
    config = _config.model_config(str(model.name), _model.input_shape(model), entries, _model.compile_config(model),
                                  _model.input_name(model))
    config["config"]["trainable"] = model.trainable
    return config


def _compile_like(model, compile_config, what):
    """Compile `model` from a Keras compile config; what convlite cannot restore is a warning, not an error."""
    from .saving import _model

    try:
        _model.compile_from_config(model, compile_config)
    except (TypeError, ValueError) as error:
        warnings.warn(f"The {what} is returned uncompiled: its compile config cannot be restored ({error}). "
                      "Call model.compile() yourself.", stacklevel=3)


def model_from_json(json_string, custom_objects=None):
    """A new Sequential (fresh weights) from Keras's JSON (``model.to_json()`` of Keras or convlite); compiled
    when the JSON holds a compile config, as Keras does."""
    from .saving import _config, _model

    if custom_objects:
        raise ValueError("convlite builds built-in Keras layers only and cannot use custom objects. "
                         f"Received: custom_objects={custom_objects!r}")
    if not isinstance(json_string, (str, bytes, bytearray)):
        raise TypeError(f"`json_string` must be a str. Received: json_string of type {type(json_string).__name__}")
    raw = json_string.encode() if isinstance(json_string, str) else bytes(json_string)
    root = _config.parse_json(raw, "the JSON string")
    spec = _config.parse_model_config(root)
    if spec.input_shape is None:
        from .models import Sequential

        model = Sequential(_model.build_layers(spec), name=spec.name)
    else:
        model = _model.build_sequential(spec)  # the Input's name too, as Keras keeps it
    if spec.compile_config:
        _compile_like(model, spec.compile_config, "model read from JSON")
    return model


def clone_model(model, input_tensors=None, clone_function=None, call_function=None, recursive=False, **kwargs):
    """Keras's clone_model for a Sequential: new layers from each layer's config (or ``clone_function(layer)``),
    so freshly initialized weights; same name, input and trainable flag; compiled like the original when it was
    (a new optimizer and new metric objects from the compile config, as Keras 3.15 does)."""
    from .layers.core import InputLayer, KerasTensor
    from .models import Sequential

    if kwargs:
        raise ValueError(f"Unexpected keyword argument(s): {tuple(kwargs.keys())}")
    if not isinstance(model, Sequential):
        raise ValueError("convlite clones Sequential models only. Received: model of type "
                         f"{type(model).__name__}")
    if call_function is not None:
        raise ValueError("`call_function` argument is not supported with Sequential models. In a Sequential model, "
                         "layers aren't called at model-construction time (they're merely listed). "
                         f"Received: call_function={call_function!r}")
    if clone_function is None:
        def clone_function(layer):
            return layer.__class__.from_config(layer.get_config())
    elif not callable(clone_function):
        raise ValueError(f"Expected `clone_function` argument to be a callable. Received: "
                         f"clone_function={clone_function!r}")
    new_layers = [clone_function(layer) for layer in model.layers]
    if input_tensors is not None:
        if isinstance(input_tensors, (list, tuple)):
            if len(input_tensors) != 1:
                raise ValueError("Argument `input_tensors` must contain a single tensor.")
            input_tensors = input_tensors[0]
        if not isinstance(input_tensors, KerasTensor):
            raise ValueError("Argument `input_tensors` must be a KerasTensor (from `convlite.Input(shape)`). "
                             f"Received invalid value: input_tensors={input_tensors!r}")
        new_layers.insert(0, input_tensors._input_layer)
    elif model._input_layer is not None:
        ref = model._input_layer
        new_layers.insert(0, InputLayer(batch_shape=ref.batch_shape, name=ref.name))
    clone = Sequential(new_layers, name=model.name, trainable=model.trainable)
    if model.compiled:
        from .saving import _model

        _compile_like(clone, _model.compile_config(model), "clone")
    return clone

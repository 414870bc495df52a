"""How the file code talks to a model: the few calls it makes on Sequential, its layers and its optimizer.

Kept in one place so the file format (_zip, _h5, _config) stays independent of the model's internals.
A model here is anything Sequential-like: `.name`, `.layers` (Keras-named layer classes with get_config /
from_config / get_weights / set_weights in Keras order), `.input_shape` once built, and `.optimizer` (with
`.variables` in Keras order and get_config) once compiled.
"""
from __future__ import annotations

import numpy as np

from . import _config, _h5


def model_layers(model) -> list:
    """The model's layers in order, without an InputLayer (Keras keeps it out of `.layers` and the h5 file)."""
    return [layer for layer in model.layers if type(layer).__name__ != "InputLayer"]


def class_name(layer) -> str:
    return type(layer).__name__


def layer_weights(layer) -> list:
    return [np.asarray(w) for w in layer.get_weights()]


def input_shape(model, action: str = "saving") -> tuple:
    """The per-sample input shape of a built model (None for a size the model takes any of)."""
    shape = getattr(model, "input_shape", None)
    if shape is None or getattr(model, "built", True) is False:
        raise ValueError(
            f"You are {action} a model that has not yet been built. Build it first by calling it on some data, "
            "by fitting it, or with `model.build(input_shape)`."
        )
    shape = tuple(shape)
    return tuple(None if d is None else int(d) for d in shape[1:])


def layer_input_shapes(model, layers) -> list:
    """Each layer's per-sample input shape (for Keras's build_config), or None for all when it cannot be told."""
    shape = (None, *input_shape(model))
    shapes = []
    try:
        for layer in layers:
            shapes.append(tuple(shape[1:]))
            shape = tuple(layer.compute_output_shape(shape))
            if len(shape) < 2 or shape[0] is not None:
                return [None] * len(layers)
    except Exception:  # noqa: BLE001 - build_config is optional: Keras builds from the InputLayer without it
        return [None] * len(layers)
    return shapes


def layer_config(layer) -> dict:
    """layer.get_config() with initializers written as Keras writes them (class + config, not a bare name)."""
    config = dict(layer.get_config())
    if not type(layer).__module__.startswith("convlite."):
        return config
    from .. import initializers

    for key, value in config.items():
        if key.endswith("_initializer") and value is not None and not isinstance(value, dict):
            try:
                config[key] = initializers.serialize(initializers.get(value))
            except (TypeError, ValueError):
                pass  # Keras reads the bare name too
    return config


def layer_entries(model, with_weights: bool) -> list:
    """The model's layers as the h5 code sees them: (class, name, weights or expected shapes)."""
    entries = []
    for layer in model_layers(model):
        weights = layer_weights(layer)
        arrays = weights if with_weights else [tuple(w.shape) for w in weights]
        entries.append(_h5.LayerEntry(class_name(layer), str(layer.name), arrays))
    return entries


# ----------------------------------------------------------------------------------------------- optimizer


def optimizer_of(model):
    return getattr(model, "optimizer", None)


def optimizer_name(optimizer) -> str:
    name = getattr(optimizer, "name", None)
    return name if isinstance(name, str) else _h5.to_snake_case(type(optimizer).__name__)


def optimizer_arrays(optimizer) -> list:
    """The optimizer's variables in Keras order (iterations, learning_rate, then its slots)."""
    return [np.asarray(v.numpy() if hasattr(v, "numpy") else v) for v in optimizer.variables]


def optimizer_specs(optimizer) -> list:
    return [(tuple(a.shape), a.dtype) for a in optimizer_arrays(optimizer)]


def assign_optimizer(optimizer, arrays) -> None:
    variables = list(optimizer.variables)
    if variables and all(hasattr(v, "assign") for v in variables):  # variable objects (Keras's, for one)
        for variable, value in zip(variables, arrays):
            variable.assign(value)
    elif getattr(optimizer, "built", True):
        optimizer.set_weights(arrays)  # convlite: iterations and learning_rate are numbers, slots live arrays
    else:
        # An optimizer before its first step holds only Keras's vars 0 and 1: iterations and learning_rate
        # (the latter absent when it is a schedule).
        optimizer.iterations = int(arrays[0])
        if len(arrays) > 1:
            optimizer.learning_rate = float(arrays[1])


def ensure_optimizer_built(model) -> None:
    """Create the optimizer's slots now (Keras does this in compile_from_config) so saved state can be loaded."""
    optimizer = optimizer_of(model)
    if optimizer is None or getattr(optimizer, "built", True):
        return
    compiled_core = getattr(model, "_compiled_core", None)
    if callable(compiled_core):
        compiled_core()  # convlite's Sequential builds the optimizer for exactly the variables it trains
    elif callable(getattr(optimizer, "build", None)):
        optimizer.build(model.trainable_variables)


def _is_default(obj) -> bool:
    try:
        return type(obj)().get_config() == obj.get_config()
    except Exception:  # noqa: BLE001 - a class that needs arguments is simply not "default"
        return False


def _compile_value(obj, module: str):
    """A loss or metric as Keras writes it when the user passed a name: the name, for a default-configured object."""
    if isinstance(obj, (list, tuple)):
        return [_compile_value(item, module) for item in obj]
    name = getattr(obj, "name", None)
    if module == "keras.metrics" and name in ("accuracy", "acc") and type(obj).__name__.endswith("Accuracy"):
        return name  # Keras resolves "accuracy" from the loss exactly as convlite did
    if module == "keras.losses" and isinstance(name, str) and _is_default(obj):
        return name
    return _config.serialize_object(obj, module)


def compile_config(model):
    """Keras's compile_config for a compiled model, or None."""
    optimizer = optimizer_of(model)
    if optimizer is None:
        return None
    get = getattr(model, "get_compile_config", None)
    base = dict(get() or {}) if callable(get) else {}
    loss = base.get("loss", getattr(model, "loss", None))
    metrics = base.get("metrics", getattr(model, "_metrics", None)) or None
    # The identifiers the user passed (a metric object may since have been renamed weighted_<name>).
    weighted = base.get("weighted_metrics", getattr(model, "_weighted_metrics_spec", None))
    if weighted is not None:
        weighted = [w if isinstance(w, str) else _compile_value(w, "keras.metrics") for w in weighted]
    return {
        "optimizer": _config.serialize_object(optimizer, "keras.optimizers"),
        "loss": _compile_value(loss, "keras.losses"),
        "loss_weights": base.get("loss_weights", getattr(model, "_loss_weights_spec", None)),
        "metrics": _compile_value(metrics, "keras.metrics") if metrics is not None else None,
        "weighted_metrics": weighted,
        "run_eagerly": False,
        "steps_per_execution": 1,
        "jit_compile": False,
    }


# ----------------------------------------------------------------------------------------------- building


def _lookup(module, class_name: str, base=None):
    """A public class of a convlite module by its Keras name, or None; never anything private or foreign."""
    if class_name.startswith("_") or "__" in class_name:
        return None
    cls = getattr(module, class_name, None)
    if not isinstance(cls, type) or not cls.__module__.startswith("convlite."):
        return None
    if base is not None and (cls is base or not issubclass(cls, base)):
        return None
    return cls


def build_layers(spec: _config.ModelSpec) -> list:
    """convlite layers for every layer of the spec; the first unsupported one is named in a ValueError."""
    from .. import layers as layers_module

    base = getattr(layers_module, "Layer", None)
    built = []
    for class_name_, config in spec.layers:
        cls = _lookup(layers_module, class_name_, base)
        if cls is None:
            supported = sorted(name for name in dir(layers_module)
                               if name != "InputLayer" and _lookup(layers_module, name, base))
            raise ValueError(
                f"The model uses the layer '{config.get('name', '?')}' of class {class_name_}, which convlite does "
                f"not support, so it cannot be loaded. Supported layers: {', '.join(supported)}. "
                f"Received: class_name={class_name_!r}"
            )
        try:
            built.append(cls.from_config(config))
        except (TypeError, ValueError) as error:
            raise ValueError(
                f"Cannot load the layer '{config.get('name', '?')}' ({class_name_}): its config is not supported "
                f"by convlite: {error}"
            ) from error
    return built


def input_name(model) -> str:
    """The name config.json gives the InputLayer: the model's own Input's (as Keras writes it)."""
    layer = getattr(model, "_input_layer", None)
    return getattr(layer, "name", None) or "input_layer"


def build_sequential(spec: _config.ModelSpec):
    from .. import models

    if spec.input_shape is None:
        raise ValueError(
            "Invalid .keras file: the model's input shape is not recorded (no InputLayer and no build input shape)."
        )
    model = models.Sequential(build_layers(spec), name=spec.name)
    model.build((None, *spec.input_shape))
    if spec.input_name:
        model._input_layer.name = spec.input_name
    return model


def compile_from_config(model, config: dict) -> None:
    """Compile like the saved model was; raise ValueError naming what convlite does not support."""
    from .. import losses, metrics, optimizers

    def resolve(value, module, kind):
        if value is None or isinstance(value, str):
            return value
        if isinstance(value, list):
            return [resolve(item, module, kind) for item in value]
        if isinstance(value, dict) and value.get("class_name") == "function":
            return value["config"]  # a built-in function referenced by name, e.g. "sparse_categorical_crossentropy"
        if isinstance(value, dict) and "class_name" in value:
            cls = _lookup(module, value["class_name"])
            if cls is None:
                raise ValueError(f"the {kind} {value['class_name']} is not supported by convlite")
            return cls.from_config(dict(value.get("config") or {}))
        raise ValueError(f"the {kind} {value!r} is not supported by convlite")

    optimizer_config = config.get("optimizer")
    if optimizer_config is None:
        raise ValueError("the compile config has no optimizer")
    kwargs = {
        "optimizer": resolve(optimizer_config, optimizers, "optimizer"),
        "loss": resolve(config.get("loss"), losses, "loss"),
    }
    if config.get("metrics") is not None:
        kwargs["metrics"] = resolve(config.get("metrics"), metrics, "metric")
    if config.get("weighted_metrics") is not None:
        kwargs["weighted_metrics"] = resolve(config.get("weighted_metrics"), metrics, "metric")
    if config.get("loss_weights") is not None:
        kwargs["loss_weights"] = config["loss_weights"]  # plain JSON numbers, vetted by check_tree
    model.compile(**kwargs)

"""config.json and metadata.json of a `.keras` file: Keras 3's JSON, validated before anything is built from it.

Nothing here evaluates or imports what a file names. A class is only ever looked up by the caller, by name, in
convlite's own modules, after `check_tree` has accepted the whole config: every `module` must be one of Keras's
public serialization modules, every `class_name` a plain identifier without `__` (Keras's `__lambda__`,
`__bytes__`, `__numpy__` ... encodings carry code or raw data), and `registered_name` must not point at a
custom (registered) class.
"""
from __future__ import annotations

import datetime
import json
import math
import re
from dataclasses import dataclass, field
from typing import Any, Optional

# The Keras release whose files we write and have tested against.
KERAS_VERSION = "3.15.1"

# Modules Keras 3 writes for its built-in objects; anything else is a custom or foreign class.
SAFE_MODULES = frozenset({
    "keras", "keras.layers", "keras.initializers", "keras.regularizers", "keras.constraints",
    "keras.optimizers", "keras.optimizers.schedules", "keras.losses", "keras.metrics", "keras.activations",
})
_IDENTIFIER = re.compile(r"[A-Za-z][A-Za-z0-9_]*\Z")
_MAX_DEPTH = 64

# Keras 3.15 writes no build_config for these (layers built at construction); every other layer gets one.
NO_BUILD_CONFIG = frozenset({
    "MaxPooling1D", "MaxPooling2D", "AveragePooling1D", "AveragePooling2D", "GlobalMaxPooling1D",
    "GlobalMaxPooling2D", "GlobalAveragePooling1D", "GlobalAveragePooling2D", "Reshape", "Dropout",
    "SpatialDropout1D", "SpatialDropout2D", "Activation", "ReLU", "LeakyReLU", "Softmax", "ELU", "GaussianNoise",
    "GaussianDropout",
})

# Keys Keras 3.15 writes that convlite's layers leave out, with the value that means "feature unused".
# On save they are filled in so our config.json reads like Keras's; on load they are dropped when neutral, so a
# Keras file loads, and kept otherwise, so the layer refuses a feature it does not implement (say renorm=True).
_REGULARIZED = {"activity_regularizer": None, "bias_regularizer": None, "bias_constraint": None}
KERAS_NEUTRAL_KEYS = {
    "Conv1D": {**_REGULARIZED, "kernel_regularizer": None, "kernel_constraint": None},
    "Conv2D": {**_REGULARIZED, "kernel_regularizer": None, "kernel_constraint": None},
    "DepthwiseConv1D": {**_REGULARIZED, "depthwise_regularizer": None, "depthwise_constraint": None},
    "DepthwiseConv2D": {**_REGULARIZED, "depthwise_regularizer": None, "depthwise_constraint": None},
    "SeparableConv1D": {**_REGULARIZED, "depthwise_regularizer": None, "depthwise_constraint": None,
                        "pointwise_regularizer": None, "pointwise_constraint": None},
    "SeparableConv2D": {**_REGULARIZED, "depthwise_regularizer": None, "depthwise_constraint": None,
                        "pointwise_regularizer": None, "pointwise_constraint": None},
    "Dense": {"kernel_regularizer": None, "bias_regularizer": None, "kernel_constraint": None,
              "bias_constraint": None, "quantization_config": None},
    "BatchNormalization": {"beta_regularizer": None, "gamma_regularizer": None, "beta_constraint": None,
                           "gamma_constraint": None, "synchronized": False, "renorm": False,
                           "renorm_clipping": None, "renorm_momentum": 0.99},
    "ZeroPadding1D": {"data_format": "channels_last"},
    "SpatialDropout2D": {"data_format": "channels_last"},
}
# Keys that mean nothing once another key switches their feature off.
_MOOT_WHEN = {"renorm_momentum": ("renorm", False), "renorm_clipping": ("renorm", False)}


# Keys Keras 3.15's constructors of these classes reject although other layers take them.
_KERAS_REJECTS = {"SpatialDropout1D": ("trainable",), "SpatialDropout2D": ("trainable",)}
# Classes whose Keras get_config writes the dtype policy by name rather than as a DTypePolicy object.
_DTYPE_BY_NAME = frozenset({"SpatialDropout1D", "SpatialDropout2D"})


def with_keras_keys(class_name: str, config: dict) -> dict:
    config = {k: v for k, v in config.items() if k not in _KERAS_REJECTS.get(class_name, ())}
    for key, value in KERAS_NEUTRAL_KEYS.get(class_name, {}).items():
        config.setdefault(key, value)
    return config


def without_neutral_keys(class_name: str, config: dict) -> dict:
    neutral = KERAS_NEUTRAL_KEYS.get(class_name, {})
    kept = {}
    for key, value in config.items():
        switch = _MOOT_WHEN.get(key)
        moot = switch is not None and config.get(switch[0], switch[1]) == switch[1]
        if key in neutral and (value == neutral[key] or moot):
            continue
        kept[key] = value
    return kept


_FLOAT32_POLICY = {"module": "keras", "class_name": "DTypePolicy", "config": {"name": "float32"},
                   "registered_name": None}


@dataclass
class ModelSpec:
    """What a Sequential config.json says, reduced to what convlite builds from."""

    name: str
    input_shape: Optional[tuple]  # per-sample shape (no batch axis), or None when the file does not say
    layers: list = field(default_factory=list)  # (class_name, config dict) in model order
    compile_config: Optional[dict] = None
    input_name: Optional[str] = None  # the InputLayer's own name, as Keras keeps it


def check_tree(node: Any, where: str = "config.json", depth: int = 0) -> None:
    """Refuse any object reference in a config tree that is not a plain, built-in Keras class."""
    if depth > _MAX_DEPTH:
        raise ValueError(f"Invalid .keras file: {where} is nested more than {_MAX_DEPTH} levels deep.")
    if isinstance(node, list):
        for index, item in enumerate(node):
            check_tree(item, f"{where}[{index}]", depth + 1)
        return
    if not isinstance(node, dict):
        return
    if "class_name" in node:
        class_name = node["class_name"]
        if not isinstance(class_name, str) or "__" in class_name or not _IDENTIFIER.match(class_name):
            raise ValueError(
                f"Invalid .keras file: {where} names a class that is not a plain Keras class name (it could encode "
                f"code or raw data, which convlite never evaluates). Received: class_name={class_name!r}"
            )
        module = node.get("module")
        if class_name == "function":
            # Keras writes a built-in function (a loss, an activation) as a reference by name:
            # {"module": "builtins", "class_name": "function", "config": "relu", "registered_name": "function"}.
            if module not in SAFE_MODULES | {"builtins"} or not isinstance(node.get("config"), str) \
                    or not _IDENTIFIER.match(node["config"]):
                raise ValueError(
                    f"Invalid .keras file: {where} refers to a function that is not a built-in one by name. "
                    f"Received: module={module!r}, config={node.get('config')!r}"
                )
            return
        if module is not None and module not in SAFE_MODULES:
            raise ValueError(
                f"Invalid .keras file: {where} refers to a class outside Keras's built-in modules; convlite only "
                f"loads built-in Keras objects. Received: module={module!r}, class_name={class_name!r}"
            )
        registered = node.get("registered_name")
        if registered is not None and registered != class_name:
            raise ValueError(
                f"Invalid .keras file: {where} refers to a custom registered class, which convlite cannot load. "
                f"Received: registered_name={registered!r}"
            )
    for key, value in node.items():
        if not isinstance(key, str):  # pragma: no cover - JSON object keys are always strings
            raise ValueError(f"Invalid .keras file: {where} has a non-string key.")
        check_tree(value, f"{where}.{key}", depth + 1)


def parse_json(data: bytes, entry: str) -> Any:
    try:
        return json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as error:
        raise ValueError(f"Invalid .keras file: '{entry}' is not valid JSON ({error}).") from error


def _shape(value, where: str) -> tuple:
    """A batch shape from JSON ([null, 16, 3]) -> per-sample shape (16, 3), every dimension a positive int, or
    null for a spatial size of any length ([null, null, 3] -> (None, 3)); the channels (last) must be known."""
    if not isinstance(value, list) or len(value) < 2 or len(value) > 8:
        raise ValueError(f"Invalid .keras file: {where} must be a list like [null, 16, 3]. Received: {value!r}")
    dims = value[1:]
    if not all((d is None and i < len(dims) - 1) or (isinstance(d, int) and not isinstance(d, bool)
                                                     and 0 < d <= 1 << 31) for i, d in enumerate(dims)):
        raise ValueError(
            f"Invalid .keras file: {where} must hold positive integer sizes after the batch axis (null only for "
            f"spatial sizes, not the channels). Received: {value!r}"
        )
    if math.prod(d for d in dims if d is not None) > 1 << 31:
        raise ValueError(f"Invalid .keras file: {where} describes an input too large to hold. Received: {value!r}")
    return tuple(dims)


def parse_model_config(root: Any) -> ModelSpec:
    """Validate a Sequential config.json and reduce it to a ModelSpec; unsupported structure is a ValueError."""
    if not isinstance(root, dict):
        raise ValueError(f"Invalid .keras file: config.json must hold a JSON object. Received: {type(root).__name__}")
    class_name = root.get("class_name")  # checked first: a Functional model is refused for what it is
    if class_name != "Sequential":
        raise ValueError(
            "convlite loads Sequential models only; this file holds a different kind of model. "
            f"Received: class_name={class_name!r}"
        )
    check_tree(root)
    if root.get("module") not in ("keras", "keras.models"):
        raise ValueError(
            f"Invalid .keras file: unexpected module for the model. Received: module={root.get('module')!r}"
        )
    config = root.get("config")
    if not isinstance(config, dict) or not isinstance(config.get("layers"), list):
        raise ValueError("Invalid .keras file: the model config must be an object with a 'layers' list.")
    name = config.get("name", "sequential")
    if not isinstance(name, str):
        raise ValueError(f"Invalid .keras file: the model name must be a string. Received: name={name!r}")

    input_shape = input_name = None
    layers = []
    for index, entry in enumerate(config["layers"]):
        where = f"config.layers[{index}]"
        if not isinstance(entry, dict) or not isinstance(entry.get("config"), dict):
            raise ValueError(f"Invalid .keras file: {where} must be an object with a 'config' object.")
        if entry.get("class_name") in ("Sequential", "Functional", "Model"):
            raise ValueError(
                f"convlite loads flat Sequential models: {where} is a model nested inside this one. "
                f"Received: class_name={entry.get('class_name')!r}"
            )
        if entry.get("module") != "keras.layers":
            raise ValueError(
                f"Invalid .keras file: {where} is not a built-in Keras layer. Received: module={entry.get('module')!r}"
            )
        layer_class = entry.get("class_name")
        if layer_class == "InputLayer":
            if index != 0:
                raise ValueError(f"Invalid .keras file: an InputLayer may only come first. Received: at {where}")
            layer_config = entry["config"]
            batch_shape = layer_config.get("batch_shape", layer_config.get("batch_input_shape"))
            input_shape = _shape(batch_shape, f"{where}.config.batch_shape")
            if isinstance(layer_config.get("name"), str) and _IDENTIFIER.match(layer_config["name"]):
                input_name = layer_config["name"]
            continue
        layers.append((layer_class, without_neutral_keys(layer_class, entry["config"])))

    if input_shape is None:
        for candidate in (config.get("build_input_shape"), (root.get("build_config") or {}).get("input_shape")):
            if candidate is not None:
                input_shape = _shape(candidate, "the model's build input shape")
                break

    compile_config = root.get("compile_config")
    if compile_config is not None and not isinstance(compile_config, dict):
        raise ValueError("Invalid .keras file: compile_config must be an object or null.")
    return ModelSpec(name=name, input_shape=input_shape, layers=layers, compile_config=compile_config or None,
                     input_name=input_name)


# ----------------------------------------------------------------------------------------------- writing


def layer_entry(class_name: str, config: dict, input_shape: Optional[tuple]) -> dict:
    """One layer as Keras serializes it inside a Sequential config."""
    config = with_keras_keys(class_name, config)
    if class_name in _DTYPE_BY_NAME:
        config["dtype"] = "float32" if config.get("dtype") is None else config["dtype"]
    elif config.get("dtype") in (None, "float32"):
        config["dtype"] = dict(_FLOAT32_POLICY)
    entry = {"module": "keras.layers", "class_name": class_name, "config": config, "registered_name": None}
    if input_shape is not None and class_name not in NO_BUILD_CONFIG:
        entry["build_config"] = {"input_shape": [None, *input_shape]}
    return entry


def model_config(name: str, input_shape: tuple, layers: list, compile_config: Optional[dict],
                 input_name: str = "input_layer") -> dict:
    """config.json for a Sequential: `layers` are layer_entry() dicts (the InputLayer is added here)."""
    batch_shape = [None, *input_shape]
    input_layer = {
        "module": "keras.layers", "class_name": "InputLayer",
        "config": {"batch_shape": batch_shape, "dtype": "float32", "sparse": False, "ragged": False,
                   "name": input_name, "optional": False},
        "registered_name": None,
    }
    return {
        "module": "keras",
        "class_name": "Sequential",
        "config": {"name": name, "trainable": True, "dtype": dict(_FLOAT32_POLICY),
                   "layers": [input_layer, *layers], "build_input_shape": batch_shape},
        "registered_name": None,
        "build_config": {"input_shape": batch_shape},
        # Keras 3.15 writes {} for a model that was never compiled.
        "compile_config": compile_config if compile_config is not None else {},
    }


def serialize_object(obj: Any, module: str) -> Any:
    """A compile-config value as Keras writes it: strings and numbers as they are, objects as class + config."""
    if obj is None or isinstance(obj, (str, bool, int, float)):
        return obj
    if isinstance(obj, (list, tuple)):
        return [serialize_object(item, module) for item in obj]
    if isinstance(obj, dict):
        return {key: serialize_object(value, module) for key, value in obj.items()}
    if hasattr(obj, "get_config"):
        return {"module": module, "class_name": type(obj).__name__, "config": obj.get_config(),
                "registered_name": None}
    name = getattr(obj, "__name__", None)  # a plain function such as a loss: Keras writes its name
    if isinstance(name, str):
        return name
    raise ValueError(f"Cannot save {obj!r} in a .keras file: it has no Keras-compatible config.")


def metadata_json() -> bytes:
    return json.dumps({
        "keras_version": KERAS_VERSION,
        "date_saved": datetime.datetime.now().strftime("%Y-%m-%d@%H:%M:%S"),
    }).encode()

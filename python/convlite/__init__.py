"""convlite: small convolutional networks on the CPU, with the Keras API and a SIMD C++ core.

>>> import convlite
>>> convlite.show_config()          # version, compiler, ISA chosen, OpenMP threads
"""
from ._config import (
    __version__,
    available_isas,
    get_isa,
    get_num_threads,
    set_num_threads,
    show_config,
)
from . import layers, models
from .layers import Input
from .models import Sequential

# Imported on first attribute access (PEP 562), as `keras.optimizers` etc. are reached: keeps `import convlite` fast.
_LAZY_SUBMODULES = ("activations", "callbacks", "constraints", "datasets", "initializers", "losses", "metrics", "nn",
                    "optimizers", "plot", "regularizers", "saving", "utils")


def __getattr__(name):
    if name in _LAZY_SUBMODULES:
        import importlib

        module = importlib.import_module(f"{__name__}.{name}")
        globals()[name] = module
        return module
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "Input",
    "Sequential",
    "activations",
    "callbacks",
    "constraints",
    "datasets",
    "nn",
    "plot",
    "initializers",
    "layers",
    "losses",
    "metrics",
    "models",
    "optimizers",
    "regularizers",
    "saving",
    "utils",
    "__version__",
    "available_isas",
    "get_isa",
    "get_num_threads",
    "set_num_threads",
    "show_config",
]

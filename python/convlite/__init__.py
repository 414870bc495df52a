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

__all__ = [
    "Input",
    "Sequential",
    "layers",
    "models",
    "__version__",
    "available_isas",
    "get_isa",
    "get_num_threads",
    "set_num_threads",
    "show_config",
]

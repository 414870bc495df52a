"""Fixtures: a seeded rng and a fixture that runs a test under every ISA the machine has."""
from __future__ import annotations

import numpy as np
import pytest

from helpers import AVAILABLE_ISAS, using_isa

@pytest.fixture
def rng() -> np.random.Generator:
    """A fresh generator with a fixed seed, so every failure reproduces."""
    return np.random.default_rng(20261123)


@pytest.fixture(params=AVAILABLE_ISAS)
def each_isa(request):
    """Parametrise a test over every ISA compiled in and supported here (scalar always included)."""
    with using_isa(request.param):
        yield request.param

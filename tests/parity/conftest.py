"""The parity suite: convlite against TensorFlow/Keras.

TensorFlow is imported once per session (the ``tf`` fixture); where it cannot be installed every parity test skips
and says why. At the end of the run the terminal summary prints
``parity suite: N cases (P passed, S skipped, F failed)``, also when the whole test suite runs from the repo root.
"""
from __future__ import annotations

import os

import pytest

from helpers import tensorflow_or_skip

_OUTCOMES: dict[str, str] = {}


@pytest.fixture(scope="session")
def tf():
    return tensorflow_or_skip()


@pytest.fixture(scope="session")
def keras(tf):
    import keras

    return keras


def pytest_runtest_logreport(report):
    """One outcome per parity test: a failure or skip in any phase wins over the call's pass. pytest calls this
    conftest's hook only for tests under tests/parity (item.ihook), so every report counted is a parity case."""
    previous = _OUTCOMES.get(report.nodeid)
    if report.failed:
        outcome = "failed"
    elif report.skipped:
        outcome = "skipped"
    elif report.when == "call":
        outcome = "passed"
    else:
        return
    if previous in ("failed",) or (previous == "skipped" and outcome == "passed"):
        return
    _OUTCOMES[report.nodeid] = outcome


def pytest_terminal_summary(terminalreporter):
    if not _OUTCOMES:
        return
    counts = {kind: sum(1 for v in _OUTCOMES.values() if v == kind) for kind in ("passed", "skipped", "failed")}
    terminalreporter.write_line(f"parity suite: {len(_OUTCOMES)} cases ({counts['passed']} passed, "
                                f"{counts['skipped']} skipped, {counts['failed']} failed)")


os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

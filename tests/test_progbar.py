"""Progbar: the text Keras 3 prints, compared byte for byte with keras.utils.Progbar under a fake clock."""
from __future__ import annotations

import itertools
import time

import pytest

from helpers import tensorflow_or_skip

from convlite._progbar import Progbar


@pytest.fixture
def fake_clock(monkeypatch):
    """time.time() advancing by a fixed step per call, so both bars see identical timings."""

    def install(step=0.021, start=1000.0):
        counter = itertools.count()
        monkeypatch.setattr(time, "time", lambda: start + step * next(counter))

    return install


# Each scenario: Progbar kwargs, then a list of update() calls as (current, values, finalize) or ("add", n, values)
SCENARIOS = {
    "verbose1_epoch": (dict(target=5), [(1, [("loss", 1.2), ("accuracy", 0.25)], None),
                                        (2, [("loss", 1.1), ("accuracy", 0.3)], None),
                                        (5, [("loss", 0.9), ("accuracy", 0.5)], None)]),
    "verbose1_stateless_logger_style": (dict(target=3, stateless_metrics=set()),
                                        [(1, [("accuracy", 0.2), ("loss", 1.0)], False),
                                         (2, [("accuracy", 0.3), ("loss", 0.8)], False),
                                         (3, [("accuracy", 0.35), ("loss", 0.7)], False),
                                         (3, [("accuracy", 0.35), ("loss", 0.7), ("val_accuracy", 0.4),
                                              ("val_loss", 0.6)], True)]),
    "verbose1_small_negative_values": (dict(target=12, stateful_metrics=["acc"]),
                                       [(3, [("loss", 0.0004), ("acc", -0.5)], None),
                                        (7, [("loss", -0.0002), ("acc", 0.001)], None),
                                        (12, [("loss", 0.5), ("acc", 0.9)], None)]),
    "verbose1_unknown_target": (dict(target=None), [(1, [("loss", 1.0)], None), (2, [("loss", 2.0)], None),
                                                    (2, [("loss", 2.0)], True)]),
    "verbose1_interval_skips": (dict(target=100, interval=0.05), [(i, [("loss", 1.0 / i)], None)
                                                                   for i in range(1, 101, 3)] + [(100, [], None)]),
    "verbose1_long_eta": (dict(target=10000), [(1, [("loss", 3.0)], None), (2, [("loss", 2.5)], None)]),
    "verbose1_add_and_width": (dict(target=7, width=10, unit_name="sample"),
                               [("add", 2, [("mse", 0.5)]), ("add", 5, [("mse", 0.25)])]),
    "verbose2_epoch": (dict(target=3, verbose=2), [(1, [("accuracy", 0.06), ("loss", 4.2)], None),
                                                   (3, [("accuracy", 0.0625), ("loss", 4.267),
                                                        ("val_accuracy", 0.125), ("val_loss", 2.4597)], None)]),
    "verbose2_tiny_and_negative": (dict(target=2, verbose=2), [(2, [("a", 0.0001), ("b", -3.0)], None)]),
    "verbose0_silent": (dict(target=4, verbose=0), [(4, [("loss", 1.0)], None)]),
}


def _run(cls, kwargs, calls):
    bar = cls(**kwargs)
    for call in calls:
        if call[0] == "add":
            bar.add(call[1], call[2])
        else:
            bar.update(call[0], call[1], finalize=call[2])


@pytest.mark.parametrize("step,total,per_step", [(0.105, "0s", "21ms"), (11.0, "11s", "2s"), (0.002, "0s", "400us")])
def test_verbose1_format(fake_clock, capsys, step, total, per_step):
    fake_clock(step)  # one update after construction: `step` seconds for 5 steps
    _run(Progbar, dict(target=5), [(5, [("accuracy", 0.225), ("loss", 1.0991)], None)])
    out = capsys.readouterr().out
    assert out == (
        "\r\x1b[1m5/5\x1b[0m \x1b[32m" + "━" * 20 + "\x1b[0m\x1b[37m\x1b[0m"
        f" \x1b[1m{total}\x1b[0m {per_step}/step - accuracy: 0.2250 - loss: 1.0991\n"
    )


def test_verbose2_format(fake_clock, capsys):
    fake_clock(2.058)
    _run(Progbar, dict(target=3, verbose=2), [(3, [("accuracy", 0.0625), ("loss", 4.267)], None)])
    assert capsys.readouterr().out == "3/3 - 2s - 686ms/step - accuracy: 0.0625 - loss: 4.2670\n"


def test_intermediate_values_are_step_weighted_averages(fake_clock):
    fake_clock()
    bar = Progbar(target=10, verbose=0)
    bar.update(2, [("loss", 1.0)])
    bar.update(5, [("loss", 2.0)])
    assert bar._values["loss"] == [2 * 1.0 + 3 * 2.0, 5]


def test_stateful_and_stateless_together_is_an_error():
    with pytest.raises(ValueError, match="Only one of"):
        Progbar(3, stateful_metrics=["a"], stateless_metrics=["b"])


@pytest.mark.tensorflow
@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_output_identical_to_keras(fake_clock, capsys, name):
    tensorflow_or_skip()
    import keras

    kwargs, calls = SCENARIOS[name]
    fake_clock()
    _run(keras.utils.Progbar, kwargs, calls)
    theirs = capsys.readouterr().out
    fake_clock()
    _run(Progbar, kwargs, calls)
    ours = capsys.readouterr().out
    assert ours == theirs
    assert (ours != "") == (kwargs.get("verbose", 1) != 0)

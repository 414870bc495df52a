"""Learning-rate schedules: values against keras.optimizers.schedules, configs, serialization, errors."""
import math

import numpy as np
import pytest

from convlite.optimizers import schedules

from helpers import tensorflow_or_skip

CASES = [
    ("ExponentialDecay", dict(initial_learning_rate=0.1, decay_steps=7, decay_rate=0.9)),
    ("ExponentialDecay", dict(initial_learning_rate=0.1, decay_steps=7, decay_rate=0.5, staircase=True)),
    ("InverseTimeDecay", dict(initial_learning_rate=0.2, decay_steps=5, decay_rate=0.5)),
    ("InverseTimeDecay", dict(initial_learning_rate=0.2, decay_steps=5, decay_rate=0.5, staircase=True)),
    ("PolynomialDecay", dict(initial_learning_rate=0.1, decay_steps=20, end_learning_rate=0.001, power=2.0)),
    ("PolynomialDecay", dict(initial_learning_rate=0.1, decay_steps=12, power=0.5, cycle=True)),
    ("CosineDecay", dict(initial_learning_rate=0.1, decay_steps=30)),
    ("CosineDecay", dict(initial_learning_rate=0.1, decay_steps=30, alpha=0.2)),
    ("CosineDecay", dict(initial_learning_rate=0.0, decay_steps=25, alpha=0.1, warmup_target=0.3,
                         warmup_steps=10)),
    ("PiecewiseConstantDecay", dict(boundaries=[3, 10, 20], values=[1.0, 0.5, 0.1, 0.01])),
]
STEPS = [0, 1, 2, 3, 4, 9, 10, 11, 20, 21, 24, 29, 30, 35, 60, 1000]


def test_exponential_decay_formula():
    s = schedules.ExponentialDecay(0.1, decay_steps=10, decay_rate=0.5)
    assert s(0) == pytest.approx(0.1) and s(10) == pytest.approx(0.05) and s(5) == pytest.approx(0.1 / math.sqrt(2))
    stair = schedules.ExponentialDecay(0.1, decay_steps=10, decay_rate=0.5, staircase=True)
    assert stair(9) == pytest.approx(0.1) and stair(10) == pytest.approx(0.05)


def test_cosine_decay_with_warmup_formula():
    s = schedules.CosineDecay(0.0, decay_steps=10, alpha=0.1, warmup_target=1.0, warmup_steps=4)
    assert s(0) == 0.0 and s(2) == pytest.approx(0.5)
    assert s(4) == pytest.approx(1.0) and s(9) == pytest.approx(0.1 + 0.9 * 0.5, rel=1e-6)
    assert s(14) == pytest.approx(0.1) and s(100) == pytest.approx(0.1)


def test_piecewise_constant_boundaries_are_inclusive_on_the_left_interval():
    s = schedules.PiecewiseConstantDecay([5, 10], [1.0, 0.5, 0.25])
    assert [s(t) for t in (0, 5, 6, 10, 11)] == [1.0, 1.0, 0.5, 0.5, 0.25]


@pytest.mark.parametrize("cls, kwargs, text", [
    (schedules.ExponentialDecay, dict(initial_learning_rate=0.1, decay_steps=0, decay_rate=0.5), "decay_steps=0"),
    (schedules.CosineDecay, dict(initial_learning_rate=0.1, decay_steps=-3), "decay_steps=-3"),
    (schedules.PiecewiseConstantDecay, dict(boundaries=[1, 2], values=[0.1, 0.2]), "length of boundaries"),
])
def test_bad_arguments(cls, kwargs, text):
    with pytest.raises(ValueError, match=text):
        cls(**kwargs)


@pytest.mark.parametrize("name, kwargs", CASES, ids=str)
def test_serialize_round_trip(name, kwargs):
    s = getattr(schedules, name)(**kwargs)
    restored = schedules.deserialize(schedules.serialize(s))
    assert type(restored) is type(s) and restored.get_config() == s.get_config()
    assert [restored(t) for t in STEPS] == [s(t) for t in STEPS]


def test_deserialize_rejects_unknown_class():
    with pytest.raises(ValueError, match="class_name='CyclicLR'"):
        schedules.deserialize({"class_name": "CyclicLR", "config": {}})


@pytest.mark.tensorflow
@pytest.mark.parametrize("name, kwargs", CASES, ids=str)
def test_values_and_configs_match_keras(name, kwargs):
    tensorflow_or_skip()
    import keras

    ours = getattr(schedules, name)(**kwargs)
    theirs = getattr(keras.optimizers.schedules, name)(**kwargs)
    expected = [float(np.asarray(theirs(t))) for t in STEPS]
    np.testing.assert_allclose([ours(t) for t in STEPS], expected, rtol=1e-6, atol=1e-9)
    assert ours.get_config() == theirs.get_config()
    assert schedules.serialize(ours) == keras.optimizers.schedules.serialize(theirs)

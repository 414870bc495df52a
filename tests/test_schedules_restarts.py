"""CosineDecayRestarts (SGDR): values against keras.optimizers.schedules at many steps (restart boundaries
included), the formula itself, config / serialization, use by an optimizer, and .keras save / load."""
import math
import warnings

import numpy as np
import pytest

import convlite
from convlite.optimizers import schedules

from helpers import tensorflow_or_skip

CASES = [
    dict(initial_learning_rate=0.1, first_decay_steps=7),
    dict(initial_learning_rate=0.1, first_decay_steps=5, t_mul=1.0, m_mul=0.5, alpha=0.1),
    dict(initial_learning_rate=0.3, first_decay_steps=3, t_mul=1.5, m_mul=0.8, alpha=0.05),
    dict(initial_learning_rate=0.01, first_decay_steps=100, t_mul=3.0, name="sgdr"),
]
# Every step up to 250 (restarts of every case fall there: 7, 21, 49, 105, 217; 5, 10, ...; 3, 7.5, ...; 100),
# then far ones.
STEPS = list(range(251)) + [1000, 4999, 5000, 12345, 10**6]


def test_formula_with_equal_periods():
    s = schedules.CosineDecayRestarts(1.0, first_decay_steps=10, t_mul=1.0, m_mul=0.5, alpha=0.2)
    # alpha is the floor of every period; m_mul scales the cosine part only: (1 - alpha) * m**i * cos + alpha
    assert s(0) == 1.0 and s(10) == pytest.approx(0.2 + 0.8 * 0.5) and s(20) == pytest.approx(0.2 + 0.8 * 0.25)
    assert s(5) == pytest.approx(0.2 + 0.8 * 0.5, rel=1e-6)  # half-way down the first cosine
    assert s(15) == pytest.approx(0.2 + 0.8 * 0.5 * 0.5, rel=1e-6)
    assert s(9.999) < s(10)  # the restart jumps back up


def test_formula_with_growing_periods():
    s = schedules.CosineDecayRestarts(2.0, first_decay_steps=4, t_mul=2.0)
    # periods [0, 4), [4, 12), [12, 28): each starts at the full rate and is a half cosine of its own length
    assert [s(t) for t in (0, 4, 12, 28)] == pytest.approx([2.0] * 4)
    assert s(8) == pytest.approx(1.0, rel=1e-6) and s(20) == pytest.approx(1.0, rel=1e-6)
    assert s(6) == pytest.approx(1.0 + math.cos(math.pi / 4), rel=1e-6)


@pytest.mark.parametrize("steps", [0, -2])
def test_first_decay_steps_must_be_positive(steps):
    with pytest.raises(ValueError, match=f"first_decay_steps={steps}"):
        schedules.CosineDecayRestarts(0.1, steps)


@pytest.mark.parametrize("kwargs", CASES, ids=str)
def test_serialize_round_trip(kwargs):
    s = schedules.CosineDecayRestarts(**kwargs)
    restored = schedules.deserialize(schedules.serialize(s))
    assert type(restored) is schedules.CosineDecayRestarts and restored.get_config() == s.get_config()
    assert schedules.CosineDecayRestarts.from_config(s.get_config()).get_config() == s.get_config()
    assert [restored(t) for t in STEPS] == [s(t) for t in STEPS]


@pytest.mark.tensorflow
@pytest.mark.parametrize("kwargs", CASES, ids=str)
def test_values_and_configs_match_keras(kwargs):
    tensorflow_or_skip()
    import keras

    ours = schedules.CosineDecayRestarts(**kwargs)
    theirs = keras.optimizers.schedules.CosineDecayRestarts(**kwargs)
    expected = [float(np.asarray(theirs(t))) for t in STEPS]
    np.testing.assert_allclose([ours(t) for t in STEPS], expected, rtol=1e-6, atol=1e-9)
    assert ours.get_config() == theirs.get_config()
    assert schedules.serialize(ours) == keras.optimizers.schedules.serialize(theirs)


def _model(optimizer):
    model = convlite.Sequential([convlite.Input((4,)), convlite.layers.Dense(3, activation="softmax")])
    model.compile(optimizer, "sparse_categorical_crossentropy")
    return model


def test_optimizer_follows_the_schedule_during_fit():
    rng = np.random.default_rng(1)
    x, y = rng.random((12, 4), dtype=np.float32), rng.integers(0, 3, 12)
    schedule = schedules.CosineDecayRestarts(0.05, first_decay_steps=3, t_mul=1.0)
    seen = []
    record = convlite.callbacks.LambdaCallback(
        on_train_batch_begin=lambda batch, logs: seen.append(float(model.optimizer.learning_rate)))
    model = _model(convlite.optimizers.SGD(schedule))
    model.fit(x, y, batch_size=2, epochs=1, shuffle=False, verbose=0, callbacks=[record])
    assert seen == pytest.approx([schedule(t) for t in range(6)])
    assert seen[3] == pytest.approx(0.05)  # the restart


def test_keras_file_keeps_the_schedule(tmp_path):
    pytest.importorskip("h5py")
    schedule = schedules.CosineDecayRestarts(0.02, 9, t_mul=1.5, m_mul=0.7, alpha=0.01)
    model = _model(convlite.optimizers.Adam(schedule))
    path = tmp_path / "sgdr.keras"
    model.save(path)
    loaded = convlite.saving.load_model(path)
    restored = loaded.optimizer.get_config()["learning_rate"]
    assert restored == schedules.serialize(schedule)


@pytest.mark.tensorflow
def test_keras_loads_our_file_with_the_schedule(tmp_path):
    tensorflow_or_skip()
    pytest.importorskip("h5py")
    import keras

    schedule = schedules.CosineDecayRestarts(0.02, 9, t_mul=1.5)
    path = tmp_path / "sgdr.keras"
    _model(convlite.optimizers.Adam(schedule)).save(path)
    with warnings.catch_warnings():  # Keras warns that an untrained optimizer's state is skipped (its own files too)
        warnings.simplefilter("ignore")
        optimizer = keras.saving.load_model(path).optimizer
    theirs, lr = optimizer.learning_rate, optimizer._learning_rate
    assert type(lr).__name__ == "CosineDecayRestarts" and lr.get_config() == schedule.get_config()
    assert float(np.asarray(theirs)) == pytest.approx(schedule(0))

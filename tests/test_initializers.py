"""Initializers: fans, distributions, seeding and configs, checked against Keras 3 itself where it can answer."""
from __future__ import annotations

import inspect
import math

import numpy as np
import pytest

from helpers import tensorflow_or_skip

from convlite import initializers as I
from convlite import utils

SHAPES = [(7,), (5, 9), (3, 4, 6), (3, 3, 5, 8), (2, 3, 3, 4, 6)]
# (class, scale, fan mode, distribution) per Keras's definitions
SCALED = [
    (I.GlorotUniform, 1.0, "fan_avg", "uniform"),
    (I.GlorotNormal, 1.0, "fan_avg", "truncated_normal"),
    (I.HeUniform, 2.0, "fan_in", "uniform"),
    (I.HeNormal, 2.0, "fan_in", "truncated_normal"),
    (I.LecunUniform, 1.0, "fan_in", "uniform"),
    (I.LecunNormal, 1.0, "fan_in", "truncated_normal"),
]
ALL_CLASSES = [cls for cls, *_ in SCALED] + [I.RandomNormal, I.RandomUniform, I.TruncatedNormal, I.Orthogonal,
                                            I.VarianceScaling]


def _target_scale(shape, scale, mode):
    fan_in, fan_out = I.compute_fans(shape)
    fan = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2}[mode]
    return scale / max(1.0, fan)


def test_fans_for_dense_and_conv_kernels():
    assert I.compute_fans((20, 10)) == (20, 10)
    assert I.compute_fans((3, 4, 8)) == (3 * 4, 3 * 8)  # Conv1D (k, c_in, f)
    assert I.compute_fans((3, 5, 4, 8)) == (15 * 4, 15 * 8)  # Conv2D (kh, kw, c_in, f)
    assert I.compute_fans((6,)) == (6, 6)
    assert I.compute_fans(()) == (1, 1)
    assert I.compute_fans((2, 3, 4), input_axes=[0, 1], output_axes=[2]) == (6, 4)


@pytest.mark.parametrize("cls,scale,mode,distribution", SCALED)
def test_variance_scaling_statistics(cls, scale, mode, distribution):
    shape = (3, 3, 24, 40)
    values = cls(seed=11)(shape)
    assert values.dtype == np.float32 and values.flags.c_contiguous and values.shape == shape
    target = _target_scale(shape, scale, mode)
    # Keras's truncated normal divides by 0.8796 so the truncated variance equals the target; uniform limit
    # sqrt(3*scale/n) also gives that variance.
    assert values.std() == pytest.approx(math.sqrt(target), rel=0.03)
    assert abs(values.mean()) < 0.05 * math.sqrt(target)
    if distribution == "uniform":
        assert np.abs(values).max() <= math.sqrt(3 * target)
    else:
        assert np.abs(values).max() <= 2 * math.sqrt(target) / 0.87962566103423978 * (1 + 1e-6)


def test_constant_zeros_ones_and_dtype():
    np.testing.assert_array_equal(I.Zeros()((2, 3)), np.zeros((2, 3), np.float32))
    np.testing.assert_array_equal(I.Ones()((4,)), np.ones(4, np.float32))
    np.testing.assert_array_equal(I.Constant(2.5)((2, 2)), np.full((2, 2), 2.5, np.float32))
    assert I.Ones()((2,), dtype="float64").dtype == np.float64
    assert I.get("zeros")((3,)).dtype == np.float32


def test_random_normal_uniform_truncated():
    n = I.RandomNormal(mean=1.0, stddev=0.5, seed=3)((200, 100))
    assert n.mean() == pytest.approx(1.0, abs=0.01) and n.std() == pytest.approx(0.5, rel=0.02)
    u = I.RandomUniform(minval=-2.0, maxval=3.0, seed=3)((200, 100))
    assert u.min() >= -2.0 and u.max() <= 3.0 and u.mean() == pytest.approx(0.5, abs=0.05)
    t = I.TruncatedNormal(mean=0.0, stddev=1.0, seed=3)((200, 100))
    assert np.abs(t).max() <= 2.0
    # the std of a unit normal truncated at +-2 is 0.8796
    assert t.std() == pytest.approx(0.8796, rel=0.02)


def test_orthogonal():
    for shape in [(6, 4), (4, 6), (3, 3, 2, 5)]:
        q = I.Orthogonal(gain=2.0, seed=1)(shape).reshape(-1, shape[-1]).astype(np.float64)
        if q.shape[0] >= q.shape[1]:
            np.testing.assert_allclose(q.T @ q, 4 * np.eye(q.shape[1]), atol=1e-5)
        else:
            np.testing.assert_allclose(q @ q.T, 4 * np.eye(q.shape[0]), atol=1e-5)
    with pytest.raises(ValueError, match="at least two-dimensional"):
        I.Orthogonal()((3,))


@pytest.mark.parametrize("cls", ALL_CLASSES)
def test_seeding_repeats_like_keras(cls):
    seeded = cls(seed=42)
    np.testing.assert_array_equal(seeded((4, 5)), seeded((4, 5)))
    np.testing.assert_array_equal(seeded((4, 5)), cls(seed=42)((4, 5)))
    assert not np.array_equal(seeded((4, 5)), cls(seed=43)((4, 5)))
    unseeded = cls()
    # Keras fixes a default seed per instance: repeated calls agree, separate instances differ.
    np.testing.assert_array_equal(unseeded((4, 5)), unseeded((4, 5)))
    assert not np.array_equal(unseeded((4, 5)), cls()((4, 5)))


def test_unseeded_initializers_follow_the_global_seed():
    utils.set_random_seed(9)
    a = [I.get(name)((3, 4)) for name in ("glorot_uniform", "he_normal", "random_normal")]
    utils.set_random_seed(9)
    b = [I.get(name)((3, 4)) for name in ("glorot_uniform", "he_normal", "random_normal")]
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)


def test_get_resolves_names_dicts_instances_and_arrays():
    assert isinstance(I.get("glorot_uniform"), I.GlorotUniform)
    assert isinstance(I.get("GlorotUniform"), I.GlorotUniform)
    assert isinstance(I.get("he_normal"), I.HeNormal)
    assert isinstance(I.get("uniform"), I.RandomUniform)
    assert isinstance(I.get(I.LecunNormal), I.LecunNormal)
    inst = I.HeUniform(seed=1)
    assert I.get(inst) is inst
    restored = I.get({"class_name": "RandomNormal", "config": {"mean": 1.0, "stddev": 2.0, "seed": 4}})
    assert (restored.mean, restored.stddev, restored.get_config()["seed"]) == (1.0, 2.0, 4)
    fixed = I.get(np.arange(6.0).reshape(2, 3))
    np.testing.assert_array_equal(fixed((2, 3)), np.arange(6, dtype=np.float32).reshape(2, 3))
    with pytest.raises(ValueError, match="Expected `shape`"):
        fixed((3, 2))
    assert I.get(None) is None


def test_get_unknown_lists_allowed_names():
    with pytest.raises(ValueError, match=r"Could not interpret initializer identifier: 'glorot'.*glorot_uniform"):
        I.get("glorot")
    with pytest.raises(ValueError, match="Could not interpret"):
        I.get(3)


def test_bad_arguments():
    with pytest.raises(ValueError, match="`scale` must be positive"):
        I.VarianceScaling(scale=0.0)
    with pytest.raises(ValueError, match="Invalid `mode`"):
        I.VarianceScaling(mode="fan")
    with pytest.raises(ValueError, match="Invalid `distribution`"):
        I.VarianceScaling(distribution="cauchy")
    with pytest.raises(ValueError, match="`seed` argument"):
        I.GlorotUniform(seed="1")
    with pytest.raises(ValueError, match="non-negative"):
        I.Zeros()((2, -1))


def test_config_round_trip():
    for init in [I.GlorotUniform(seed=3), I.VarianceScaling(2.0, "fan_out", "uniform", seed=1),
                 I.RandomUniform(-1, 1, seed=2), I.Constant(3.0), I.Orthogonal(0.5, seed=7)]:
        clone = init.__class__.from_config(init.get_config())
        np.testing.assert_array_equal(clone((3, 4)), init((3, 4)))
        assert I.deserialize(I.serialize(init)).get_config() == init.get_config()


# --- against Keras itself -------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def keras():
    tensorflow_or_skip()
    import keras

    return keras


@pytest.mark.tensorflow
@pytest.mark.parametrize("shape", SHAPES)
def test_fans_match_keras(keras, shape):
    from keras.src.initializers.random_initializers import compute_fans

    assert I.compute_fans(shape) == compute_fans(shape)


@pytest.mark.tensorflow
@pytest.mark.parametrize("cls", ALL_CLASSES + [I.Zeros, I.Ones, I.Constant])
def test_config_and_serialization_match_keras(keras, cls):
    theirs_cls = getattr(keras.initializers, cls.__name__)
    kwargs = {"seed": 5} if "seed" in inspect.signature(cls).parameters else {}
    assert cls(**kwargs).get_config() == theirs_cls(**kwargs).get_config()
    assert I.serialize(cls(**kwargs)) == keras.initializers.serialize(theirs_cls(**kwargs))


@pytest.mark.tensorflow
def test_every_keras_name_we_accept_means_the_same_class(keras):
    from keras.src.initializers import ALL_OBJECTS_DICT as KERAS_NAMES

    for name, cls in I.ALL_OBJECTS_DICT.items():
        assert KERAS_NAMES[name].__name__ == cls.__name__, name


@pytest.mark.tensorflow
@pytest.mark.parametrize("cls", [cls for cls, *_ in SCALED] + [I.RandomNormal, I.RandomUniform, I.TruncatedNormal])
def test_distribution_matches_keras(keras, cls):
    shape = (3, 3, 16, 24)
    ours = cls(seed=1)(shape)
    theirs = np.asarray(getattr(keras.initializers, cls.__name__)(seed=1)(shape))
    assert ours.shape == theirs.shape and ours.dtype == theirs.dtype
    assert ours.std() == pytest.approx(theirs.std(), rel=0.05)
    if cls is not I.RandomNormal:  # bounded distributions: the same bound (uniform limit or 2 stddev)
        assert np.abs(ours).max() <= np.abs(theirs).max() * 1.03 + 1e-7
        assert np.abs(theirs).max() <= np.abs(ours).max() * 1.03 + 1e-7


@pytest.mark.tensorflow
def test_keras_also_repeats_seeded_and_unseeded_calls(keras):
    # The behaviour test_seeding_repeats_like_keras relies on, checked on Keras itself.
    for init in (keras.initializers.GlorotUniform(seed=3), keras.initializers.GlorotUniform()):
        np.testing.assert_array_equal(np.asarray(init((4, 5))), np.asarray(init((4, 5))))

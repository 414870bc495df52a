"""convlite.utils: the global seed (reproducibility contract the model relies on) and to_categorical vs Keras."""
from __future__ import annotations

import random

import numpy as np
import pytest

from helpers import tensorflow_or_skip

from convlite import initializers, utils


def _draws():
    init = initializers.get("glorot_uniform")
    return (
        init((3, 4)),
        utils.next_seed(),
        utils.global_rng().permutation(10),
        random.random(),
        np.random.rand(),
    )


def test_set_random_seed_makes_every_stream_repeat():
    utils.set_random_seed(1234)
    first = _draws()
    utils.set_random_seed(1234)
    second = _draws()
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)
    assert utils.get_random_seed() == 1234


def test_different_seeds_give_different_draws():
    utils.set_random_seed(1)
    a = _draws()
    utils.set_random_seed(2)
    b = _draws()
    assert not np.array_equal(a[0], b[0])
    assert a[1] != b[1]


def test_next_seed_range_and_type():
    utils.set_random_seed(0)
    seeds = [utils.next_seed() for _ in range(100)]
    assert all(isinstance(s, int) and 1 <= s <= 10**9 for s in seeds)
    assert len(set(seeds)) == 100


def test_global_rng_is_one_generator():
    assert utils.global_rng() is utils.global_rng()
    assert isinstance(utils.global_rng(), np.random.Generator)


@pytest.mark.parametrize("bad", [1.5, "3", None, True])
def test_set_random_seed_rejects_non_integers(bad):
    with pytest.raises(ValueError, match="Expected `seed` argument to be an integer"):
        utils.set_random_seed(bad)


def test_to_categorical_shapes():
    out = utils.to_categorical([0, 2, 1])
    np.testing.assert_array_equal(out, np.eye(3)[[0, 2, 1]])
    assert out.dtype == np.float64
    assert utils.to_categorical(np.array([[1], [0]]), num_classes=4).shape == (2, 4)
    assert utils.to_categorical(np.zeros((2, 3), int), num_classes=2).shape == (2, 3, 2)
    with pytest.raises(ValueError, match="Class indices"):
        utils.to_categorical([0, 5], num_classes=3)


@pytest.mark.tensorflow
def test_to_categorical_matches_keras():
    tensorflow_or_skip()
    import keras

    for labels, n in [([0, 2, 1, 2], None), (np.array([[3], [1]]), 5), (np.arange(6).reshape(2, 3), None)]:
        ours = utils.to_categorical(labels, n)
        theirs = keras.utils.to_categorical(labels, n)
        assert ours.shape == theirs.shape and ours.dtype == theirs.dtype
        np.testing.assert_array_equal(ours, theirs)


@pytest.mark.tensorflow
def test_set_random_seed_seeds_python_and_numpy_as_keras_does():
    tensorflow_or_skip()
    import keras

    keras.utils.set_random_seed(77)
    theirs = (random.random(), np.random.rand())
    utils.set_random_seed(77)
    ours = (random.random(), np.random.rand())
    assert ours == theirs

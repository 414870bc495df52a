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


_SEQUENCES = [[1, 2, 3], [4, 5], [], [6, 7, 8, 9, 10]]
_SERIES = [np.arange(7 * 2, dtype=np.float32).reshape(7, 2), np.ones((3, 2), np.float32),
           np.full((5, 2), -1.5, np.float32)]


@pytest.mark.tensorflow
@pytest.mark.parametrize("sequences, kwargs", [
    (_SEQUENCES, {}),
    (_SEQUENCES, {"maxlen": 3, "padding": "post", "truncating": "post"}),
    (_SEQUENCES, {"maxlen": 4, "truncating": "pre", "value": -1}),
    (_SERIES, {"dtype": "float32", "padding": "post"}),
    (_SERIES, {"dtype": "float32", "maxlen": 4, "value": 0.5}),
])
def test_pad_sequences_matches_keras(sequences, kwargs):
    tensorflow_or_skip()
    import keras

    ours = utils.pad_sequences(sequences, **kwargs)
    theirs = keras.utils.pad_sequences(sequences, **kwargs)
    assert ours.shape == theirs.shape and ours.dtype == theirs.dtype
    np.testing.assert_array_equal(ours, theirs)


@pytest.mark.parametrize("call, message", [
    (lambda: utils.pad_sequences([[1]], padding="middle"), "padding='middle'"),
    (lambda: utils.pad_sequences([[1]], truncating=None), "truncating=None"),
    (lambda: utils.pad_sequences([1, 2]), "non-iterable at position 0"),
    (lambda: utils.pad_sequences([]), "Pass `maxlen`"),
    (lambda: utils.pad_sequences([[1]], maxlen=-2), "maxlen=-2"),
    (lambda: utils.pad_sequences([np.ones((2, 3)), np.ones((2, 4))]), "position 1 is different"),
    (lambda: utils.pad_sequences([[1]], value="x"), "dtype=object"),
])
def test_pad_sequences_errors_name_the_argument(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_pad_sequences_edges():
    assert utils.pad_sequences([], maxlen=3).shape == (0, 3)
    assert utils.pad_sequences([[1, 2]], maxlen=0).shape == (1, 0)


@pytest.mark.tensorflow
def test_normalize_matches_keras(rng):
    tensorflow_or_skip()
    import keras

    x = rng.standard_normal((4, 5))
    x[1] = 0.0
    for axis, order in [(-1, 2), (1, 1), (1, np.inf)]:
        np.testing.assert_allclose(utils.normalize(x, axis, order), keras.utils.normalize(x, axis, order))
    # axis=0: Keras's `axis or -1` turns it into -1 and fails to broadcast; convlite normalizes the columns
    columns = np.abs(x).sum(axis=0, keepdims=True)
    np.testing.assert_allclose(utils.normalize(x, 0, 1), x / columns)

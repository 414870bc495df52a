"""Dropout and spatial dropout: Philox4x32-10 known answers, masks against the reference stream on every ISA,
offsets and chunking, threads, backward, statistics, errors, Keras's scaling."""
import numpy as np
import pytest

from convlite import _core

from helpers import tensorflow_or_skip, using_threads

# Random123's published known-answer vectors for philox4x32_10.
KAT = [
    ([0, 0, 0, 0], [0, 0], [0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8]),
    ([0xFFFFFFFF] * 4, [0xFFFFFFFF] * 2, [0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD]),
    ([0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344], [0xA4093822, 0x299F31D0],
     [0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1]),
]


@pytest.mark.parametrize("counter, key, expected", KAT)
def test_philox_known_answers(counter, key, expected):
    assert list(_core.philox4x32_10(counter, key)) == expected


def test_stream_layout():
    seed, block = 0x1234_5678_9ABC_DEF0, (1 << 32) + 7  # a block number past 32 bits
    words = _core.philox4x32_10([block & 0xFFFFFFFF, block >> 32, 0, 0], [seed & 0xFFFFFFFF, seed >> 32])
    np.testing.assert_array_equal(_core.random_uint32(seed, 4 * block, 4), words)


def reference_mask(rate, seed, offset, n):
    words = _core.random_uint32(seed, offset, n).astype(np.float64)
    return (np.floor(words / 256) / 2 ** 24 >= np.float32(rate)).astype(np.uint8)


def scale_of(rate):
    return np.float32(1) / (np.float32(1) - np.float32(rate))


@pytest.mark.parametrize("n", [0, 1, 3, 4, 31, 32, 33, 100, 16384 + 37])
@pytest.mark.parametrize("offset", [0, 3, 5, (1 << 34) + 1])
@pytest.mark.parametrize("rate", [0.0, 0.3, 1.0])
def test_mask_and_output_match_reference(each_isa, rng, n, offset, rate):
    seed = 987654321987
    x = rng.standard_normal(n).astype(np.float32)
    y, mask = _core.dropout(x, rate, seed, offset)
    expected = reference_mask(rate, seed, offset, n)
    np.testing.assert_array_equal(mask, expected)
    scale = scale_of(rate) if rate < 1 else np.float32(0)
    np.testing.assert_array_equal(y, np.where(expected == 1, x * scale, np.float32(0)))
    dy = rng.standard_normal(n).astype(np.float32)
    np.testing.assert_array_equal(_core.dropout_backward(dy, mask, rate), np.where(expected == 1, dy * scale, 0))


def test_chunks_with_offsets_reproduce_one_call(rng):
    x = rng.standard_normal(10007).astype(np.float32)
    _, whole = _core.dropout(x, 0.4, 7, 100)
    _, a = _core.dropout(x[:3001], 0.4, 7, 100)
    _, b = _core.dropout(x[3001:], 0.4, 7, 100 + 3001)
    np.testing.assert_array_equal(np.concatenate([a, b]), whole)


def test_threads_give_identical_masks(rng):
    x = rng.standard_normal((64, 128, 129)).astype(np.float32)
    with using_threads(1):
        one = _core.dropout(x, 0.25, 3, 11)
    with using_threads(2):
        two = _core.dropout(x, 0.25, 3, 11)
    np.testing.assert_array_equal(one[0], two[0])
    np.testing.assert_array_equal(one[1], two[1])


@pytest.mark.parametrize("shape", [(64, 1600), (3, 2048 * 5 + 7)])
def test_two_threads_draw_the_reference_stream(rng, shape):
    # MNIST's dropout size (50 blocks of 2048 split across two threads) at a training step's offset, and blocks
    # that end inside a Philox word group.
    x = rng.standard_normal(shape).astype(np.float32)
    offset = (7 << 32) + 2
    with using_threads(2):
        y, mask = _core.dropout(x, 0.5, 12345, offset)
    expected = reference_mask(0.5, 12345, offset, x.size).reshape(shape)
    np.testing.assert_array_equal(mask, expected)
    np.testing.assert_array_equal(y, np.where(expected == 1, x * scale_of(0.5), np.float32(0)))


def test_keep_fraction_and_independence_across_seeds():
    x = np.ones(1 << 20, np.float32)
    _, m1 = _core.dropout(x, 0.3, 1, 0)
    _, m2 = _core.dropout(x, 0.3, 2, 0)
    assert abs(m1.mean() - 0.7) < 0.003 and abs(m2.mean() - 0.7) < 0.003
    assert abs((m1 & m2).mean() - 0.49) < 0.003  # different seeds behave as independent draws
    assert abs((m1[1:] & m1[:-1]).mean() - 0.49) < 0.003  # neighbours too
    words = _core.random_uint32(5, 0, 1 << 16)
    counts = np.bincount(words >> 28, minlength=16)  # top 4 bits spread evenly
    assert counts.min() > 0.9 * 4096 and counts.max() < 1.1 * 4096


@pytest.mark.parametrize("shape", [(3, 5, 4), (2, 3, 4, 17), (4, 1, 9)])
def test_spatial_dropout_draws_per_sample_and_channel(each_isa, rng, shape):
    x = rng.standard_normal(shape).astype(np.float32)
    b, c = shape[0], shape[-1]
    y, mask = _core.spatial_dropout(x, 0.5, 99, 6)
    expected = reference_mask(0.5, 99, 6, b * c).reshape(b, c)
    np.testing.assert_array_equal(mask, expected)
    broadcast = expected.reshape((b,) + (1,) * (len(shape) - 2) + (c,))
    np.testing.assert_array_equal(y, np.where(broadcast == 1, x * scale_of(0.5), np.float32(0)))
    dy = rng.standard_normal(shape).astype(np.float32)
    np.testing.assert_array_equal(_core.spatial_dropout_backward(dy, mask, 0.5),
                                  np.where(broadcast == 1, dy * scale_of(0.5), np.float32(0)))


@pytest.mark.parametrize("call, error, text", [
    (lambda: _core.dropout(np.zeros(3, np.float32), 1.5, 0), ValueError, "rate=1.5"),
    (lambda: _core.dropout(np.zeros(3, np.float32), -0.1, 0), ValueError, "rate=-0.1"),
    (lambda: _core.dropout(np.zeros(3), 0.5, 0), TypeError, "x.dtype=float64"),
    (lambda: _core.dropout_backward(np.zeros(3, np.float32), np.zeros(3, np.float32), 0.5), TypeError, "uint8"),
    (lambda: _core.dropout_backward(np.zeros(3, np.float32), np.zeros(4, np.uint8), 0.5), ValueError,
     r"mask.shape=\(4,\)"),
    (lambda: _core.spatial_dropout(np.zeros(3, np.float32), 0.5, 0), ValueError, r"x.shape=\(3,\)"),
    (lambda: _core.spatial_dropout_backward(np.zeros((2, 3, 4), np.float32), np.zeros((2, 3), np.uint8), 0.5),
     ValueError, r"mask.shape=\(2, 3\)"),
])
def test_bad_arguments_raise_named_errors(call, error, text):
    with pytest.raises(error, match=text):
        call()


def test_negative_seed_is_rejected():
    with pytest.raises(TypeError):
        _core.dropout(np.zeros(3, np.float32), 0.5, -1)


@pytest.mark.tensorflow
def test_kept_units_are_scaled_like_keras(rng):
    tensorflow_or_skip()
    import keras

    x = rng.uniform(1, 2, (64, 33)).astype(np.float32)
    theirs = keras.layers.Dropout(0.3, seed=1)(x, training=True).numpy()
    ours, mask = _core.dropout(x, 0.3, 1)
    kept = theirs != 0
    np.testing.assert_array_equal(theirs[kept], x[kept] * scale_of(0.3))
    np.testing.assert_array_equal(ours[mask == 1], x[mask == 1] * scale_of(0.3))
    np.testing.assert_array_equal(keras.layers.Dropout(0.3)(x, training=False).numpy(), x)

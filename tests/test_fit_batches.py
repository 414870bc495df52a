"""fit / evaluate / predict over batches from Python generators, iterators and PyDataset-like objects: a batch trains
exactly as the same rows do from arrays, Keras's argument rules hold, running out of data stops training with
Keras's warning, and Keras's own PyDataset trains the same in convlite as in Keras."""
import warnings

import numpy as np
import pytest

import convlite
from convlite import layers

from helpers import tensorflow_or_skip

N, BATCH = 53, 10  # a partial last batch


@pytest.fixture
def data(rng):
    x = rng.standard_normal((N, 7, 2)).astype(np.float32)
    y = (rng.random((N, 1)) > 0.5).astype(np.float32)
    w = rng.random(N).astype(np.float32) + 0.5
    return x, y, w


def _model(optimizer="adam"):
    convlite.utils.set_random_seed(3)
    model = convlite.Sequential([layers.Input((7, 2)), layers.Conv1D(3, 3, activation="relu"), layers.Flatten(),
                                 layers.Dropout(0.25), layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer, "binary_crossentropy", metrics=["accuracy", "mae"])
    return model


def _generator(x, y=None, w=None, batch=BATCH):
    for start in range(0, len(x), batch):
        part = slice(start, start + batch)
        yield tuple(a[part] for a in (x, y, w) if a is not None)


class Batches:
    """A PyDataset-shaped object (no Keras needed): __len__, __getitem__ and on_epoch_end."""

    def __init__(self, x, y=None, w=None, batch=BATCH):
        self.arrays = [a for a in (x, y, w) if a is not None]
        self.batch, self.epochs_ended = batch, 0

    def __len__(self):
        return -(-len(self.arrays[0]) // self.batch)

    def __getitem__(self, i):
        part = slice(i * self.batch, (i + 1) * self.batch)
        batch = tuple(a[part] for a in self.arrays)
        return batch[0] if len(batch) == 1 else batch

    def on_epoch_end(self):
        self.epochs_ended += 1


def _same_weights(a, b):
    for got, want in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("weighted", [False, True])
def test_a_generator_trains_exactly_as_the_same_batches_from_arrays(data, weighted):
    x, y, w = data
    from_arrays = _model()
    want = from_arrays.fit(x, y, sample_weight=w if weighted else None, batch_size=BATCH, shuffle=False,
                           verbose=0).history
    from_batches = _model()
    got = from_batches.fit(_generator(x, y, w if weighted else None), verbose=0).history
    assert got == want
    _same_weights(from_batches, from_arrays)


def test_a_dataset_runs_every_epoch_from_batch_0_and_hears_each_epoch_end(data):
    x, y, _ = data
    from_arrays = _model()
    want = from_arrays.fit(x, y, batch_size=BATCH, epochs=3, shuffle=False, verbose=0).history
    source = Batches(x, y)
    from_batches = _model()
    got = from_batches.fit(source, epochs=3, verbose=0, shuffle=False).history
    assert got == want and source.epochs_ended == 3
    assert int(from_batches.optimizer.iterations) == 3 * len(source)
    _same_weights(from_batches, from_arrays)


def test_shuffle_reorders_a_datasets_batches_each_epoch_as_keras_does(data):
    x, y, _ = data
    seen = []

    class Recording(Batches):
        def __getitem__(self, i):
            seen.append(i)
            return super().__getitem__(i)

    convlite.utils.set_random_seed(5)
    _model().fit(Recording(x, y), epochs=2, verbose=0)  # shuffle=True, the default
    first, second = seen[:6], seen[6:]
    assert sorted(first) == sorted(second) == list(range(6)) and (first, second) != (list(range(6)),) * 2
    seen.clear()
    _model().fit(_generator(x, y), verbose=0, shuffle=True)  # a generator's order is its own: nothing to record
    # With steps_per_epoch the pass carries on across epochs (Keras's kept iterator), then a new pass starts.
    with pytest.warns(UserWarning, match="ran out of data"):
        _model().fit(Recording(x, y), steps_per_epoch=4, epochs=3, verbose=0, shuffle=False)
    assert seen == [0, 1, 2, 3, 4, 5, 0, 1, 2, 3]


def test_class_weight_applies_to_a_datasets_batches_not_to_a_generator(data):
    x, y, _ = data
    weights = {0: 0.5, 1: 2.0}
    from_arrays = _model()
    want = from_arrays.fit(x, y, class_weight=weights, batch_size=BATCH, shuffle=False, verbose=0).history
    from_batches = _model()
    assert from_batches.fit(Batches(x, y), class_weight=weights, shuffle=False, verbose=0).history == want
    _same_weights(from_batches, from_arrays)
    with pytest.raises(ValueError, match="`class_weight` and `sample_weight` at the same time"):
        _model().fit(Batches(x, y, np.ones(N, np.float32)), class_weight=weights, verbose=0)


def test_a_dataset_without_a_length_needs_steps(data):
    x, y, _ = data

    class Endless:
        num_batches = None

        def __getitem__(self, i):
            return x[:BATCH], y[:BATCH]

    with pytest.raises(ValueError, match="steps_per_epoch=None"):
        _model().fit(Endless(), verbose=0)
    model = _model()
    model.fit(Endless(), steps_per_epoch=3, epochs=2, verbose=0)
    assert int(model.optimizer.iterations) == 6
    assert model.predict(Endless(), steps=2, verbose=0).shape == (2 * BATCH, 1)


def test_steps_per_epoch_caps_an_endless_generator(data):
    x, y, _ = data

    def endless():
        while True:
            yield from _generator(x, y)

    model = _model()
    history = model.fit(endless(), steps_per_epoch=4, epochs=3, validation_data=endless(), validation_steps=2,
                        verbose=0).history
    assert int(model.optimizer.iterations) == 12
    assert sorted(history) == ["accuracy", "loss", "mae", "val_accuracy", "val_loss", "val_mae"]
    assert all(len(v) == 3 for v in history.values())


def test_running_out_of_data_stops_training_with_keras_warning(data):
    x, y, _ = data
    model = _model()
    with pytest.warns(UserWarning, match="ran out of data"):
        history = model.fit(_generator(x, y), epochs=3, verbose=0)
    assert history.epoch == [0]  # no empty epochs after the generator is exhausted
    assert int(model.optimizer.iterations) == 6
    model = _model()  # a dataset's short epoch warns, and the next epoch reads a new pass (as Keras)
    with pytest.warns(UserWarning, match="ran out of data"):
        history = model.fit(Batches(x, y), steps_per_epoch=8, epochs=2, verbose=0)
    assert history.epoch == [0, 1] and int(model.optimizer.iterations) == 12
    with pytest.raises(ValueError, match="yielded no batches"):
        _model().fit(iter([]), verbose=0)
    with pytest.raises(ValueError, match="yielded no batches"):
        _model().fit(Batches(x[:0], y[:0]), verbose=0)


def test_array_fit_validates_on_a_generator_or_dataset(data):
    x, y, _ = data

    def endless():
        while True:
            yield from _generator(x[:20], y[:20])

    model = _model()
    history = model.fit(x, y, epochs=2, batch_size=BATCH, validation_data=endless(), validation_steps=2,
                        verbose=0).history
    want = model.evaluate(x[:20], y[:20], batch_size=BATCH, return_dict=True, verbose=0)
    assert history["val_loss"][-1] == want["loss"]
    history = model.fit(x, y, epochs=1, validation_data=Batches(x[:20], y[:20]), verbose=0).history
    assert history["val_loss"][-1] == model.evaluate(x[:20], y[:20], batch_size=BATCH, verbose=0)[0]
    with pytest.raises(ValueError, match="applies when `validation_data` is a generator or dataset"):
        model.fit(x, y, validation_data=(x, y), validation_steps=2, verbose=0)


def test_evaluate_and_predict_take_the_same_sources(data):
    x, y, w = data
    model = _model()
    model.fit(x, y, epochs=2, verbose=0)
    assert model.evaluate(_generator(x, y), verbose=0) == model.evaluate(x, y, batch_size=BATCH, verbose=0)
    assert model.evaluate(Batches(x, y, w), return_dict=True, verbose=0) == \
        model.evaluate(x, y, sample_weight=w, batch_size=BATCH, return_dict=True, verbose=0)
    assert model.evaluate(Batches(x, y), steps=2, verbose=0) == model.evaluate(x[:20], y[:20], batch_size=BATCH,
                                                                               verbose=0)
    want = model.predict(x, verbose=0)
    np.testing.assert_array_equal(model.predict(_generator(x), verbose=0), want)
    np.testing.assert_array_equal(model.predict(_generator(x, y), verbose=0), want)  # targets ignored
    np.testing.assert_array_equal(model.predict(Batches(x), verbose=0), want)  # a dataset may return a bare x
    np.testing.assert_array_equal(model.predict(Batches(x), steps=2, verbose=0), want[:20])


def test_an_unbuilt_model_is_built_from_the_first_batch(data):
    x, y, _ = data
    model = convlite.Sequential([layers.Conv1D(3, 3), layers.Flatten(), layers.Dense(1, activation="sigmoid")])
    model.compile("sgd", "binary_crossentropy")
    model.fit(_generator(x, y), verbose=0)
    assert model.input_shape == (None, 7, 2)


def test_batch_hooks_and_progress_bar_see_every_batch(data, capsys):
    x, y, _ = data
    seen = []
    hook = convlite.callbacks.LambdaCallback(on_train_batch_end=lambda batch, logs: seen.append(batch))
    _model().fit(_generator(x, y), epochs=1, callbacks=[hook], verbose=1)
    assert seen == [0, 1, 2, 3, 4, 5]
    assert "6/6" in capsys.readouterr().out  # unknown length: the bar's target is set at the end


@pytest.mark.parametrize("kwargs, message", [
    ({"y": np.zeros((N, 1))}, "`y` should not be passed"),
    ({"sample_weight": np.ones(N)}, "`sample_weights` should not be passed"),
    ({"validation_split": 0.2}, "`validation_split` is only supported for NumPy arrays"),
    ({"class_weight": {0: 1.0, 1: 2.0}}, "`class_weight` is not supported"),  # for a generator
    ({"shuffle": True, "validation_data": Batches(np.zeros((5, 7, 2)), np.zeros((5, 1))), "validation_steps": 0},
     "validation_steps=0"),
    ({"steps_per_epoch": 0}, "steps_per_epoch=0"),
    ({"validation_steps": 1.5}, "validation_steps=1.5"),
])
def test_arguments_that_come_with_the_batches_are_refused(data, kwargs, message):
    x, y, _ = data
    with pytest.raises(ValueError, match=message):
        _model().fit(_generator(x, y), verbose=0, **kwargs)


def test_malformed_batches_get_clear_errors(data):
    x, y, _ = data
    model = _model()
    with pytest.raises(ValueError, match="each batch must be a tuple"):
        model.fit((a for a in [x[:10]]), verbose=0)  # a generator must yield tuples, as in Keras
    with pytest.raises(ValueError, match="each batch must be a tuple"):
        model.fit(iter([(x[:10], y[:10], None, None)]), verbose=0)
    with pytest.raises(ValueError, match="incompatible with the layer"):
        model.fit(iter([(x[:10, :5], y[:10])]), verbose=0)
    with pytest.raises(ValueError, match="same structure"):
        model.fit(iter([(x[:10], y[:10]), (x[:10], y[:10], np.ones(10))]), verbose=0)
    with pytest.raises(ValueError, match="cardinality"):
        model.fit(iter([(x[:10], y[:7])]), verbose=0)
    with pytest.raises(ValueError, match="yielded no batches"):
        model.predict(iter([]), verbose=0)
    with pytest.raises(ValueError, match="yielded no batches"):
        model.evaluate(iter([]), verbose=0)
    class BadLength:
        num_batches = "3"

        def __getitem__(self, i):
            return x[:BATCH], y[:BATCH]

    with pytest.raises(ValueError, match="num_batches='3'"):
        model.fit(BadLength(), verbose=0)
    with pytest.raises(ValueError, match="applies when `x` is a generator or dataset"):
        model.fit(x, y, steps_per_epoch=2, verbose=0)


@pytest.mark.tensorflow
def test_keras_pydataset_trains_in_convlite_as_in_keras(data):
    tensorflow_or_skip()
    import keras

    x, y, _ = data

    class KerasBatches(keras.utils.PyDataset):
        def __len__(self):
            return -(-N // BATCH)

        def __getitem__(self, i):
            return x[i * BATCH:(i + 1) * BATCH], y[i * BATCH:(i + 1) * BATCH]

    def build(lib):
        model = lib.Sequential([lib.Input((7, 2)), lib.layers.Conv1D(3, 3, activation="relu"), lib.layers.Flatten(),
                                lib.layers.Dense(1, activation="sigmoid")])
        model.compile(lib.optimizers.SGD(0.05), "binary_crossentropy")
        return model

    theirs = build(keras)
    ours = build(convlite)
    ours.set_weights(theirs.get_weights())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Keras's own notes about PyDataset workers
        # shuffle=False: both shuffle a dataset's batch order by default, each with its own random generator
        want = theirs.fit(KerasBatches(), epochs=3, shuffle=False, verbose=0).history["loss"]
    got = ours.fit(KerasBatches(), epochs=3, shuffle=False, verbose=0).history["loss"]
    np.testing.assert_allclose(got, want, rtol=1e-5)
    with warnings.catch_warnings():  # steps_per_epoch below the length: the pass carries on across epochs
        warnings.simplefilter("ignore")
        want = theirs.fit(KerasBatches(), epochs=4, steps_per_epoch=4, shuffle=False, verbose=0).history["loss"]
        got = ours.fit(KerasBatches(), epochs=4, steps_per_epoch=4, shuffle=False, verbose=0).history["loss"]
    np.testing.assert_allclose(got, want, rtol=1e-5)
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(ours.predict(KerasBatches(), verbose=0), theirs.predict(KerasBatches(), verbose=0),
                               rtol=1e-4, atol=1e-6)

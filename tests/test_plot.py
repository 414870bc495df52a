"""convlite.plot writes one valid PNG, exactly at the path it is given, and nothing else."""
import os
import struct

import numpy as np
import pytest

pytest.importorskip("matplotlib")

import convlite  # noqa: E402
from convlite import plot  # noqa: E402

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _png_size(path):
    """(width, height) from the IHDR chunk, after checking the signature."""
    with open(path, "rb") as handle:
        head = handle.read(24)
    assert head[:8] == PNG_SIGNATURE
    assert head[12:16] == b"IHDR"
    return struct.unpack(">II", head[16:24])


def _only_file(folder):
    return sorted(os.listdir(folder))


def test_stages_figure(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # anything written "elsewhere" by accident would show up here
    rng = np.random.default_rng(0)
    image = rng.random((1, 33, 31, 1), dtype=np.float32)
    stages = [("Original", image[0, :, :, 0]), ("Convolution", image - 0.5), ("Activation", np.maximum(image, 0.5)),
              ("Pooling", image[:, ::2, ::2, :]), ("Signal", rng.standard_normal(50))]
    target = tmp_path / "out" / "maps.png"
    target.parent.mkdir()
    returned = plot.feature_maps(stages, target, title="stages")
    assert returned == str(target)
    width, height = _png_size(target)
    assert width == 5 * 260 and height > 200  # one 2.6-inch column per stage at dpi 100
    assert _only_file(tmp_path) == ["out"] and _only_file(target.parent) == ["maps.png"]


def test_stages_with_channels_draw_rows(tmp_path):
    maps = np.random.default_rng(1).random((1, 9, 9, 6))
    path = plot.feature_maps([("a", maps[0, :, :, 0]), ("b", maps)], str(tmp_path / "c.png"), max_channels=3)
    width, height = _png_size(path)
    assert width == 2 * 260 and height == 3 * 260


def test_model_figure(tmp_path):
    layers = convlite.layers
    model = convlite.Sequential([layers.Input((12, 12, 1)), layers.Conv2D(3, 3, activation="relu"),
                                 layers.MaxPooling2D(2), layers.Flatten(), layers.Dense(4, activation="softmax")])
    x = np.random.default_rng(2).random((2, 12, 12, 1)).astype(np.float32)
    before = model.predict(x, verbose=0)
    path = plot.feature_maps(path=tmp_path / "model.png", model=model, x=x[0])
    width, _ = _png_size(path)
    assert width == 4 * 260  # Original, Conv2D, MaxPooling2D, Dense (Flatten skipped)
    np.testing.assert_array_equal(model.predict(x, verbose=0), before)  # the model itself is untouched
    assert _only_file(tmp_path) == ["model.png"]


def test_training_history(tmp_path):
    history = {"loss": [0.9, 0.5, 0.3], "accuracy": [0.5, 0.7, 0.9], "val_loss": [1.0, 0.6, 0.5],
               "val_accuracy": [0.4, 0.6, 0.8]}
    path = plot.training_history(history, tmp_path / "history.png")
    width, height = _png_size(path)
    assert width == 2 * 420 and height == 340  # loss and accuracy panels
    assert _only_file(tmp_path) == ["history.png"]

    class History:  # what fit() returns: the curves live in .history
        pass

    record = History()
    record.history = {"loss": [1.0, 0.5]}
    assert _png_size(plot.training_history(record, tmp_path / "loss.png"))[0] == 420


def test_arguments_are_checked(tmp_path):
    with pytest.raises(ValueError, match="path"):
        plot.training_history({"loss": [1.0]})
    with pytest.raises(TypeError, match="history"):
        plot.training_history({}, tmp_path / "x.png")
    with pytest.raises(ValueError, match="either `stages`"):
        plot.feature_maps(path=tmp_path / "x.png")
    with pytest.raises(TypeError, match="stages"):
        plot.feature_maps([np.zeros((3, 3))], tmp_path / "x.png")
    with pytest.raises(ValueError, match="shape"):
        plot.feature_maps([("bad", np.zeros((1, 2, 3, 4, 5)))], tmp_path / "x.png")
    with pytest.raises(TypeError, match="convlite.Sequential"):
        plot.feature_maps(path=tmp_path / "x.png", model=object(), x=np.zeros((1, 3)))
    for name in ("h.pdf", "h.jpg"):  # PNG bytes under another extension used to be written silently
        with pytest.raises(ValueError, match="must end in .png"):
            plot.training_history({"loss": [1.0]}, tmp_path / name)
    assert os.listdir(tmp_path) == []

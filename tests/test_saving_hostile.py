"""Hostile and broken model files (issue 9 item 7): each is refused with a clear ValueError, the target model keeps
its weights, and nothing is written anywhere (the directory holds only the file under test afterwards)."""
from __future__ import annotations

import json
import warnings
import zipfile

import numpy as np
import pytest

from convlite import saving

from saving_standin import StandInModel

h5py = pytest.importorskip("h5py")


@pytest.fixture
def good(tmp_path, rng, monkeypatch):
    """A valid .keras and .weights.h5 pair saved from a stand-in model, kept outside the test directory.

    The test runs inside that directory, so anything written to a relative path would show up in its listing.
    """
    source = tmp_path / "source"
    source.mkdir()
    model = StandInModel(rng)
    saving.save_model(model, source / "m.keras")
    saving.save_weights(model, source / "m.weights.h5")
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    return source / "m.keras", source / "m.weights.h5", work


def _entries(keras_path):
    with zipfile.ZipFile(keras_path) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def _write_zip(path, entries, compression=zipfile.ZIP_STORED):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns about the duplicate names some tests write on purpose
        with zipfile.ZipFile(path, "w", compression=compression) as archive:
            for name, data in entries:
                archive.writestr(name, data)


def _edit_h5(data: bytes, edit, scratch) -> bytes:
    scratch.write_bytes(data)
    with h5py.File(scratch, "a") as f:
        edit(f)
    out = scratch.read_bytes()
    scratch.unlink()
    return out


def _assert_refused(load, model, directory, match):
    before = [w.copy() for w in model.get_weights()]
    listing = sorted(p.name for p in directory.iterdir())
    with pytest.raises(ValueError, match=match):
        load()
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert sorted(p.name for p in directory.iterdir()) == listing
    assert not (directory.parent / "evil").exists()


# ------------------------------------------------------------------------------------------ hostile h5 content


def _replace(path, make):
    def edit(f):
        del f[path]
        make(f, path)
    return edit


H5_CASES = {
    "huge declared shape": (_replace("layers/dense/vars/0", lambda f, p: f.create_dataset(
        p, shape=(1 << 20, 1 << 20), dtype="f4", chunks=(64, 64), compression="gzip")), "has shape"),
    "wrong shape": (_replace("layers/dense/vars/0", lambda f, p: f.create_dataset(p, data=np.zeros((2, 25), "f4"))),
                    "has shape"),
    "int dtype": (_replace("layers/dense/vars/0", lambda f, p: f.create_dataset(p, data=np.zeros((25, 2), "i4"))),
                  "float32 or float64"),
    "float16 dtype": (_replace("layers/dense/vars/1", lambda f, p: f.create_dataset(p, data=np.zeros(2, "f2"))),
                      "float32 or float64"),
    "object dtype": (_replace("layers/dense/vars/1", lambda f, p: f.create_dataset(
        p, data=np.array(["__import__('os')", "x"], dtype=object), dtype=h5py.string_dtype())), "float32 or float64"),
    "soft link": (_replace("layers/dense/vars/1", lambda f, p: f.__setitem__(
        p, h5py.SoftLink("/layers/conv1d/vars/1"))), "SoftLink"),
    "external link": (_replace("layers/dense/vars/0", lambda f, p: f.__setitem__(
        p, h5py.ExternalLink("/etc/passwd", "/x"))), "ExternalLink"),
    "external storage": (_replace("layers/dense/vars/1", lambda f, p: f.create_dataset(
        p, shape=(2,), dtype="f4", external=[("/dev/zero", 0, 8)])), "external file"),
    "null dataspace": (_replace("layers/dense/vars/1", lambda f, p: f.create_dataset(p, data=h5py.Empty("f4"))),
                       "null dataspace"),
    "missing weight": (lambda f: f.__delitem__("layers/dense/vars/1"), "should hold datasets"),
    "extra weight": (lambda f: f.create_dataset("layers/dense/vars/2", data=np.zeros(2, "f4")), "should hold datasets"),
    "missing layer": (lambda f: f.__delitem__("layers/conv1d_1"), "is missing"),
    "foreign layer": (lambda f: f.create_dataset("layers/lambda/vars/0", data=np.zeros(2, "f4")), "different model"),
    "group instead of dataset": (_replace("layers/dense/vars/1", lambda f, p: f.create_group(p)), "Dataset"),
}


@pytest.mark.parametrize("case", sorted(H5_CASES))
@pytest.mark.parametrize("container", ["weights.h5", "keras"])
def test_hostile_weights_are_refused_and_the_model_is_unchanged(good, rng, case, container):
    keras_path, weights_path, work = good
    edit, match = H5_CASES[case]
    model = StandInModel(rng)
    if container == "weights.h5":
        target = work / "m.weights.h5"
        target.write_bytes(_edit_h5(weights_path.read_bytes(), edit, work / "scratch.h5"))
    else:
        entries = _entries(keras_path)
        entries["model.weights.h5"] = _edit_h5(entries["model.weights.h5"], edit, work / "scratch.h5")
        target = work / "m.keras"
        _write_zip(target, entries.items())
    _assert_refused(lambda: saving.load_weights(model, target), model, work, match)


def test_not_an_h5_file_is_refused(good, rng):
    _, _, work = good
    target = work / "m.weights.h5"
    target.write_bytes(b"\x89HDF\r\n\x1a\n" + b"\x00" * 100)
    model = StandInModel(rng)
    _assert_refused(lambda: saving.load_weights(model, target), model, work, "not a readable HDF5 file")


# ------------------------------------------------------------------------------------------ hostile archives


def _config_with(keras_path, change):
    config = json.loads(_entries(keras_path)["config.json"])
    change(config)
    return json.dumps(config).encode()


def _set_layer(index, **values):
    def change(config):
        config["config"]["layers"][index].update(values)
    return change


ARCHIVE_CASES = {
    "truncated": (lambda e, k: None, "not a readable zip archive"),
    "dot-dot entry": (lambda e, k: e.append(("../evil", b"x")), "climbs out"),
    "nested dot-dot entry": (lambda e, k: e.append(("assets/../../evil", b"x")), "climbs out"),
    "absolute entry": (lambda e, k: e.append(("/tmp/evil", b"x")), "absolute"),
    "backslash entry": (lambda e, k: e.append(("..\\evil", b"x")), "absolute"),
    "duplicate entry": (lambda e, k: e.append(("config.json", b"{}")), "duplicate"),
    "no config": (lambda e, k: e.__delitem__(1), "'config.json' is missing"),
    "no weights": (lambda e, k: e.__delitem__(2), "'model.weights.h5' is missing"),
    "config not json": (lambda e, k: e.__setitem__(1, ("config.json", b"\x80not json")), "not valid JSON"),
    "deeply nested json": (lambda e, k: e.__setitem__(1, ("config.json", b"[" * 100000 + b"]" * 100000)),
                           "not valid JSON|nested"),
    "module os": (lambda e, k: e.__setitem__(1, ("config.json", _config_with(
        k, _set_layer(1, module="os", class_name="system")))), "module='os'"),
    "builtins eval": (lambda e, k: e.__setitem__(1, ("config.json", _config_with(
        k, _set_layer(1, config={"name": "x", "f": {"module": "builtins", "class_name": "eval", "config": {}}})))),
        "built-in modules"),
    "lambda class": (lambda e, k: e.__setitem__(1, ("config.json", _config_with(
        k, _set_layer(1, config={"name": "x", "function": {"class_name": "__lambda__", "config": {"code": "AAAA"}}})))),
        "never evaluates"),
    "dunder class": (lambda e, k: e.__setitem__(1, ("config.json", _config_with(
        k, _set_layer(1, class_name="__class__")))), "never evaluates"),
    "registered custom class": (lambda e, k: e.__setitem__(1, ("config.json", _config_with(
        k, _set_layer(1, registered_name="mypackage>Evil")))), "custom registered class"),
    "functional model": (lambda e, k: e.__setitem__(1, ("config.json", _config_with(
        k, lambda c: c.__setitem__("class_name", "Functional")))), "Sequential models only"),
    "bad input shape": (lambda e, k: e.__setitem__(1, ("config.json", _config_with(
        k, lambda c: c["config"]["layers"][0]["config"].__setitem__("batch_shape", [None, -4, 3])))),
        "positive integer sizes"),
}


@pytest.mark.parametrize("case", sorted(ARCHIVE_CASES))
def test_hostile_archives_are_refused(good, rng, case):
    keras_path, _, work = good
    mutate, match = ARCHIVE_CASES[case]
    entries = list(_entries(keras_path).items())
    assert [name for name, _ in entries] == ["metadata.json", "config.json", "model.weights.h5"]
    mutate(entries, keras_path)
    target = work / "m.keras"
    _write_zip(target, entries)
    if case == "truncated":
        target.write_bytes(target.read_bytes()[: target.stat().st_size // 2])
    _assert_refused(lambda: saving.load_model(target), StandInModel(rng), work, match)
    if case in ("truncated", "dot-dot entry", "absolute entry", "duplicate entry", "no weights"):
        model = StandInModel(rng)
        _assert_refused(lambda: saving.load_weights(model, target), model, work, match)


def test_decompression_bomb_is_refused_before_reading(good, rng):
    keras_path, _, work = good
    entries = _entries(keras_path)
    entries["model.weights.h5"] = bytes(40 << 20)  # 40 MiB of zeros deflate to ~40 KiB
    target = work / "m.keras"
    _write_zip(target, entries.items(), compression=zipfile.ZIP_DEFLATED)
    assert target.stat().st_size < 1 << 20
    model = StandInModel(rng)
    _assert_refused(lambda: saving.load_weights(model, target), model, work, "decompression bomb")


def test_encrypted_entry_is_refused(good, rng):
    keras_path, _, work = good
    data = bytearray(keras_path.read_bytes())
    # zipfile cannot write encrypted entries: set the flag in the weights entry's central directory record.
    record = data.index(b"PK\x01\x02")
    while not data[record + 46:].startswith(b"model.weights.h5"):
        record = data.index(b"PK\x01\x02", record + 4)
    data[record + 8] |= 0x1
    target = work / "m.keras"
    target.write_bytes(bytes(data))
    model = StandInModel(rng)
    _assert_refused(lambda: saving.load_weights(model, target), model, work, "encrypted")


def test_missing_file_is_a_file_not_found_error(tmp_path, rng):
    with pytest.raises(FileNotFoundError):
        saving.load_model(tmp_path / "absent.keras")
    with pytest.raises(FileNotFoundError):
        saving.load_weights(StandInModel(rng), tmp_path / "absent.weights.h5")
    assert list(tmp_path.iterdir()) == []

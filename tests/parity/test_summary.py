"""Sequential.summary() against keras.Model.summary() for the same architectures (test_config.py's models).

convlite's table has one extra column (FLOPs), so its geometry differs; the comparison is on content: the model
name line, each row's ``name (Type)``, output shape and parameter count, and the three totals lines. (The exact
box drawing is compared with Keras's in tests/test_summary_format.py.)
"""
from __future__ import annotations

import pytest

import convlite
from parity.test_config import MODEL_NAMES, _models

pytestmark = pytest.mark.tensorflow


def _named(model, lib):
    """The same model with explicit layer names (auto names count per session, differently in each library)."""
    layers = [type(layer).from_config({**layer.get_config(), "name": f"l{i}"}) for i, layer in enumerate(model.layers)]
    return lib.Sequential([lib.Input(model.input_shape[1:]), *layers], name=model.name)


def _parse(text):
    lines = text.splitlines()
    rows = [[cell.strip() for cell in line.strip("│").split("│")][:3] for line in lines if line.startswith("│")]
    totals = [line.strip() for line in lines if line.strip().split(" params:")[0] in ("Total", "Trainable",
                                                                                      "Non-trainable")]
    return lines[0], rows, totals


@pytest.mark.parametrize("index", range(len(MODEL_NAMES)), ids=MODEL_NAMES)
def test_summary_content_matches_keras(keras, monkeypatch, index):
    monkeypatch.setenv("COLUMNS", "200")  # wide enough that no cell wraps in either table
    ours = _named(list(_models(convlite))[index], convlite)
    theirs = _named(list(_models(keras))[index], keras)
    texts = []
    for model in (ours, theirs):
        captured = []
        model.summary(print_fn=lambda text, **kwargs: captured.append(text))
        texts.append("\n".join(captured))
    header_ours, rows_ours, totals_ours = _parse(texts[0])
    header_theirs, rows_theirs, totals_theirs = _parse(texts[1])
    assert header_ours == header_theirs == f'Model: "{ours.name}"'
    assert rows_ours == rows_theirs
    assert len(rows_ours) == len(ours.layers) and len(totals_ours) == 3
    assert totals_ours == totals_theirs

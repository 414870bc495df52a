"""summary() text: compared line for line with keras.Model.summary(print_fn=...) on the same layers."""
from __future__ import annotations

import pytest

from helpers import tensorflow_or_skip

from convlite._summary import format_summary, readable_memory_size

ECG_ROWS = [("conv1d (Conv1D)", (None, 98, 16), 64), ("conv1d_1 (Conv1D)", (None, 96, 8), 392),
            ("flatten (Flatten)", (None, 768), 0), ("dense (Dense)", (None, 1), 769)]


def test_ecg_model_table(monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")  # Keras caps the width at terminal columns - 4
    text = format_summary("sequential", ECG_ROWS, 1225, 1225, 0)
    assert text == (
        'Model: "sequential"\n'
        "┏━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━┓\n"
        "┃ Layer (type)                    ┃ Output Shape           ┃       Param # ┃\n"
        "┡━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━┩\n"
        "│ conv1d (Conv1D)                 │ (None, 98, 16)         │            64 │\n"
        "├─────────────────────────────────┼────────────────────────┼───────────────┤\n"
        "│ conv1d_1 (Conv1D)               │ (None, 96, 8)          │           392 │\n"
        "├─────────────────────────────────┼────────────────────────┼───────────────┤\n"
        "│ flatten (Flatten)               │ (None, 768)            │             0 │\n"
        "├─────────────────────────────────┼────────────────────────┼───────────────┤\n"
        "│ dense (Dense)                   │ (None, 1)              │           769 │\n"
        "└─────────────────────────────────┴────────────────────────┴───────────────┘\n"
        " Total params: 1,225 (4.79 KB)\n"
        " Trainable params: 1,225 (4.79 KB)\n"
        " Non-trainable params: 0 (0.00 B)\n"
    )


def test_flops_column_and_optimizer_line():
    rows = [row + (flops,) for row, flops in zip(ECG_ROWS, [9408, 73728, None, 1536])]
    text = format_summary("ecg", rows, 3677, 1225, 0, extra_column="FLOPs", line_length=100, optimizer_params=2452)
    lines = text.splitlines()
    assert all(len(line) == 100 for line in lines[1:-4])
    assert lines[2].endswith("Param # ┃      FLOPs ┃") or "FLOPs" in lines[2]
    assert "73,728 │" in lines[6] and lines[8].rstrip().endswith("- │")
    assert lines[-1] == " Optimizer params: 2,452 (9.58 KB)"
    assert lines[-4] == " Total params: 3,677 (14.36 KB)"  # 4 bytes each (Keras adds 4 more for its int64 step)


def test_wrapping_unbuilt_and_unknown_shape():
    rows = [("a_really_long_layer_name_that_cannot_fit (SeparableConv2D)", None, None)]
    lines = format_summary("m", rows, 0, 0, 0, line_length=50).splitlines()
    body = [line for line in lines if line.startswith("│")]
    assert len(body) == 2 and "…" in body[0] and "(SeparableConv2D)" in body[1]
    assert "? " in body[0] and body[0].endswith(" 0 │") and body[1].endswith(" (unbui… │")
    assert all(len(line) == 50 for line in lines[1:-3])


def test_memory_sizes_and_errors():
    assert readable_memory_size(0) == "0.00 B"
    assert readable_memory_size(23_896) == "23.34 KB"
    assert readable_memory_size(5 * 1024**3) == "5.00 GB"
    with pytest.raises(ValueError, match="Insufficient console width"):
        format_summary("m", ECG_ROWS, 1, 1, 0, line_length=8)


# --- against Keras ------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def keras():
    tensorflow_or_skip()
    import keras

    return keras


@pytest.fixture(scope="module")
def keras_models(keras):
    """Built once: constructing Keras models dominates this file's run time."""
    return list(_build_models(keras))


def _build_models(keras):
    L = keras.layers
    yield keras.Sequential([keras.Input((100, 1)), L.Conv1D(16, 3, activation="relu"), L.Conv1D(8, 3),
                            L.Flatten(), L.Dense(1, activation="sigmoid")], name="sequential")
    yield keras.Sequential([keras.Input((28, 28, 1)), L.Conv2D(32, 3, name="c"), L.BatchNormalization(),
                            L.MaxPooling2D(), L.SeparableConv2D(64, 3, name="a_really_long_layer_name_for_wrapping"),
                            L.GlobalAveragePooling2D(), L.Dropout(0.5), L.Dense(10_000), L.Dense(10)],
                           name="mnist_convnet_with_a_name")
    yield keras.Sequential([keras.Input((5,)), L.Dense(3)], name="tiny")


def _rows(model):
    return [(f"{layer.name} ({layer.__class__.__name__})", tuple(layer.output.shape), layer.count_params())
            for layer in model.layers]


def _counts(model):
    trainable = sum(int(w.numpy().size) for w in model.trainable_weights)
    non_trainable = sum(int(w.numpy().size) for w in model.non_trainable_weights)
    return trainable + non_trainable, trainable, non_trainable


@pytest.mark.tensorflow
# A line_length wider than the terminal is left out: rich then breaks each table line at the terminal width,
# which we do not reproduce (we print the table intact).
@pytest.mark.parametrize("columns,line_length", [("80", None), ("200", None), ("70", None), ("80", 60), ("200", 120)])
def test_same_text_as_keras(keras_models, monkeypatch, columns, line_length):
    monkeypatch.setenv("COLUMNS", columns)
    for model in keras_models:
        captured = []
        model.summary(line_length=line_length, print_fn=lambda text, **kwargs: captured.append(text))
        ours = format_summary(model.name, _rows(model), *_counts(model), line_length=line_length)
        assert ours == captured[0]


@pytest.mark.tensorflow
@pytest.mark.parametrize("columns,line_length", [("80", None), ("200", None), ("200", 90), ("80", 64)])
def test_four_column_geometry_matches_keras(keras_models, monkeypatch, columns, line_length):
    # Keras's show_trainable adds a fourth column exactly as we add FLOPs: compare the table's rules.
    monkeypatch.setenv("COLUMNS", columns)
    model = keras_models[0]
    captured = []
    model.summary(line_length=line_length, show_trainable=True, print_fn=lambda text, **kw: captured.append(text))
    rows = [row + (0,) for row in _rows(model)]
    ours = format_summary(model.name, rows, *_counts(model), extra_column="FLOPs", line_length=line_length)
    assert ours.splitlines()[1] == captured[0].splitlines()[1]
    assert ours.splitlines()[-4] == captured[0].splitlines()[-4]


@pytest.mark.tensorflow
@pytest.mark.parametrize("columns,line_length", [("80", None), ("200", None), ("200", 110)])
def test_trainable_column_same_text_as_keras(keras_models, monkeypatch, columns, line_length):
    monkeypatch.setenv("COLUMNS", columns)
    model = keras_models[1]
    model.layers[0].trainable = False
    try:
        captured = []
        model.summary(line_length=line_length, show_trainable=True, print_fn=lambda text, **kw: captured.append(text))
        marks = [("Y" if layer.trainable else "N") if layer.weights else "-" for layer in model.layers]
        ours = format_summary(model.name, _rows(model), *_counts(model), line_length=line_length,
                              trainable_marks=marks)
        assert ours == captured[0]
    finally:
        model.layers[0].trainable = True


def test_summary_show_trainable_marks_each_layer(capsys):
    import convlite
    from convlite import layers

    model = convlite.Sequential([layers.Input((8, 8, 1)), layers.Conv2D(4, 3), layers.Flatten(), layers.Dense(2)])
    model.layers[0].trainable = False
    model.summary(show_trainable=True, line_length=140)
    rows = [line for line in capsys.readouterr().out.splitlines() if line.startswith("│")]
    assert [row.split("│")[4].strip() for row in rows] == ["N", "-", "Y"]
    with pytest.raises(ValueError, match="positions"):
        model.summary(positions=[0.3, 0.6, 0.8, 1.0])


def test_summary_of_a_model_with_no_input_shape_lists_it_unbuilt(capsys):
    import convlite
    from convlite import layers

    model = convlite.Sequential([layers.Conv2D(8, 3), layers.Dense(10)])
    model.summary(line_length=120)  # Keras: '?' shapes and '0 (unbuilt)' (it used to raise)
    rows = [line for line in capsys.readouterr().out.splitlines() if line.startswith("│ conv2d") or
            line.startswith("│ dense")]
    assert len(rows) == 2 and all("?" in row and "0 (unbuilt)" in row for row in rows)
    assert not model.built


@pytest.mark.parametrize("line_length", [64, 70, 76, 100])
def test_flops_never_truncated(line_length):
    """A narrow table shortens large FLOP counts with an SI suffix instead of cutting digits off ("4,46…")."""
    rows = [("conv2d (Conv2D)", (None, 26, 26, 32), 320, 389_376), ("conv2d_1 (Conv2D)", (None, 11, 11, 64), 18_496,
                                                                    4_460_544), ("flatten (Flatten)", (None, 1600), 0, 0)]
    text = format_summary("m", rows, 18_816, 18_816, 0, extra_column="FLOPs", line_length=line_length)
    cells = [line.split("│")[4].strip() for line in text.splitlines() if line.count("│") == 5 and line.split("│")[4].strip()]
    width = len(text.splitlines()[4].split("│")[4]) - 2  # a cell is padded by one space on each side
    full = ["389,376", "4,460,544", "0"]
    assert not any("…" in cell for cell in cells)
    short = ["389K", "4.46M" if width >= 5 else "4.5M", "0"]
    assert cells == [f if len(f) <= width else s for f, s in zip(full, short)]


def test_flops_suffix_rounds_up_to_the_next_unit():
    from convlite._summary import _fitted_count

    assert _fitted_count(999_999, 5) == "1M"  # not "1e+03K"
    assert _fitted_count(999_999_999, 5) == "1G"
    assert _fitted_count(4_460_544, 4) == "4.5M"
    assert _fitted_count(1_500, 5) == "1,500"  # fits: the full number

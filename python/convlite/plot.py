"""Figures for convlite pipelines and models, saved as PNG files.

Needs matplotlib (``pip install "convlite[plot]"``). The figures are drawn with matplotlib's object API and the Agg
renderer, so no display is needed and the pyplot state (current figure, backend) of the caller is left alone. Each
function writes exactly one file, the ``path`` it is given, and returns that path.

- :func:`feature_maps` draws a pipeline stage by stage ("Original", "Convolution", "Activation", "Pooling", ...),
  either from arrays you computed (e.g. with :mod:`convlite.nn`) or from a model's layers on one input.
- :func:`training_history` draws the loss and metric curves that ``model.fit`` returned, train and validation.
"""
from __future__ import annotations

import os
from typing import Sequence

import numpy as np

__all__ = ["feature_maps", "training_history"]


def _figure_class():
    try:
        from matplotlib.figure import Figure
    except ImportError as error:
        raise ImportError(
            'convlite.plot needs matplotlib, which is not installed. Install the extra: pip install "convlite[plot]"'
        ) from error
    return Figure


def _check_path(path) -> str:
    if path is None:
        raise ValueError("`path` is required: the PNG file to write. Received: path=None")
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"`path` must be a str or os.PathLike naming the PNG file to write. Received: path={path!r}")
    path = os.fspath(path)
    suffix = os.path.splitext(path)[1].lower()
    if suffix not in ("", ".png"):  # the figures are written as PNG: another extension would hold PNG bytes
        raise ValueError(f"`path` names the PNG file to write and must end in .png. Received: path={path!r}")
    return path


# --------------------------------------------------------------------------------------------- feature maps
def _as_panel(name: str, array) -> tuple[str, np.ndarray, str]:
    """Normalise one stage to (title, data, kind): kind "image" with data (H, W, C) or "signal" with data (L, C).

    Stages are given the way convlite.nn returns them: 2-D (H, W) image, 3-D (H, W, C), 4-D (1, H, W, C); a 1-D
    array is a signal. Model activations go through _model_stages, which knows the layout for certain.
    """
    data = np.asarray(array, dtype=np.float64)
    if data.ndim == 4:
        data = data[0]
    if data.ndim == 1:
        return name, data[:, np.newaxis], "signal"
    if data.ndim == 2:
        return name, data[:, :, np.newaxis], "image"
    if data.ndim == 3:
        return name, data, "image"
    raise ValueError(
        "Each stage must be a 1-D signal, a 2-D (H, W) image, (H, W, C) or (1, H, W, C). "
        f"Received: stage {name!r} with shape={np.shape(array)}"
    )


def _layer_title(layer) -> str:
    kind = type(layer).__name__
    activation = getattr(layer, "activation", None)
    activation_name = getattr(activation, "__name__", activation if isinstance(activation, str) else None)
    if "Conv" in kind:
        title = "Convolution"
    elif "Pool" in kind:
        title = "Pooling"
    elif kind in ("Activation", "ReLU", "LeakyReLU", "ELU", "Softmax", "PReLU"):
        title = "Activation"
    else:
        title = kind
    if activation_name not in (None, "linear") and title != "Activation":
        title += f" + {activation_name}"
    return f"{title}\n{getattr(layer, 'name', kind)}"


def _model_stages(model, x) -> list[tuple[str, np.ndarray, str]]:
    """The input and every layer's output on one sample, as panels (Flatten/Dropout-like layers are skipped)."""
    from .models import Sequential

    if not isinstance(model, Sequential):
        raise TypeError("feature_maps(model=...) takes a convlite.Sequential model. "
                        f"Received: model of type {type(model).__name__}")
    x = np.asarray(x, dtype=np.float32)
    if x.ndim == len(model.input_shape) - 1:  # one sample without its batch axis
        x = x[np.newaxis]
    x = x[:1]
    outputs = _layer_outputs(model, x)
    panels = [_sample_panel("Original", x[0])]
    for layer, output in zip(model.layers, outputs):
        if type(layer).__name__ in ("Flatten", "Dropout", "Reshape", "InputLayer", "SpatialDropout1D",
                                    "SpatialDropout2D", "GaussianNoise", "GaussianDropout"):
            continue
        panels.append(_sample_panel(_layer_title(layer), np.asarray(output)[0]))
    return panels


def _sample_panel(title: str, sample: np.ndarray) -> tuple[str, np.ndarray, str]:
    """One sample's activation without the batch axis: (L, C) signal, (H, W, C) image, (units,) vector."""
    sample = np.asarray(sample, dtype=np.float64)
    if sample.ndim == 3:
        return title, sample, "image"
    if sample.ndim == 2:
        return title, sample, "signal"
    if sample.ndim == 1:
        return title, sample[:, np.newaxis], "vector"
    raise ValueError(f"Cannot draw an activation of shape {sample.shape}. Received: layer output {title!r}")


def _layer_outputs(model, x: np.ndarray) -> list[np.ndarray]:
    """Every layer's output for the batch `x`: the prefix models Sequential(layers[:i+1]) share the layers (and
    so the trained weights) with `model`, and run through the same C++ inference path as model.predict."""
    from .layers import Input
    from .models import Sequential

    per_sample = tuple(model.input_shape[1:])
    outputs = []
    for end in range(1, len(model.layers) + 1):
        prefix = Sequential([Input(per_sample), *model.layers[:end]], name=f"{model.name}_feature_maps")
        outputs.append(np.asarray(prefix.predict(x, verbose=0)))
    return outputs


def _draw_panel(axes, title: str, data: np.ndarray, kind: str, channel: int, cmap: str, robust: bool) -> None:
    axes.set_title(title, fontsize=9)
    if kind == "image":
        picture = data[:, :, channel]
        # A few extreme responses (edge filters on noise) would squeeze everything else into mid-gray: scale the
        # colours to the 0.5..99.5 percentiles instead of min..max.
        low, high = np.percentile(picture, [0.5, 99.5]) if robust else (picture.min(), picture.max())
        if high <= low:
            low, high = picture.min(), picture.max()
        axes.imshow(picture, cmap=cmap, interpolation="nearest", vmin=low, vmax=high)
        axes.set_xticks([])
        axes.set_yticks([])
        height, width = data.shape[:2]
        axes.set_xlabel(f"{height}x{width}" + (f", channel {channel}" if data.shape[2] > 1 else ""), fontsize=8)
    elif kind == "signal":
        axes.plot(data[:, channel], linewidth=1.0)
        axes.set_xlabel(f"length {data.shape[0]}" + (f", channel {channel}" if data.shape[1] > 1 else ""),
                        fontsize=8)
        axes.tick_params(labelsize=7)
    else:  # vector: one bar per unit
        axes.bar(np.arange(data.shape[0]), data[:, 0])
        axes.set_xlabel(f"{data.shape[0]} unit" + ("s" if data.shape[0] != 1 else ""), fontsize=8)
        axes.tick_params(labelsize=7)


def feature_maps(stages: Sequence[tuple[str, object]] | None = None, path=None, *, model=None, x=None,
                 max_channels: int = 4, cmap: str = "gray", robust: bool = True, title: str | None = None,
                 dpi: int = 100) -> str:
    """Draw a pipeline stage by stage (one column per stage) and save it as a PNG at ``path``.

    Two ways to call it:

    - ``feature_maps([("Original", image), ("Convolution", conv), ("Activation", act), ("Pooling", pooled)],
      "edges.png")``: each stage is a ``(title, array)`` pair; the array is a 2-D ``(H, W)`` image, ``(H, W, C)``,
      ``(1, H, W, C)`` as :mod:`convlite.nn` returns it, or a 1-D signal.
    - ``feature_maps(path="maps.png", model=model, x=sample)``: the input and each layer's output for one sample
      (``x`` with or without its batch axis; only the first sample is drawn). Conv1D models draw signals, Conv2D
      models images, Dense layers one bar per unit; Flatten and Dropout are skipped.

    With several channels, rows show the first ``max_channels`` of them (channel 0 on top); stages with fewer
    channels leave the lower rows empty. Images are coloured with ``cmap``; ``robust=True`` maps the 0.5 and 99.5
    percentiles (not min and max) to the ends of the colour scale, so a few extreme responses do not wash out the
    rest. ``title`` goes above the figure; ``dpi`` sets the resolution. Returns ``path``.
    """
    path = _check_path(path)
    if (stages is None) == (model is None):
        raise ValueError("Pass either `stages` (a list of (title, array)) or `model` and `x`, not both. "
                         f"Received: stages={'None' if stages is None else '...'}, model={model!r}")
    if model is not None:
        if x is None:
            raise ValueError("`x` is required with `model`: the sample whose feature maps to draw. Received: x=None")
        panels = _model_stages(model, x)
    else:
        if isinstance(stages, (str, bytes)) or not all(isinstance(s, (tuple, list)) and len(s) == 2 for s in stages):
            raise TypeError("`stages` must be a list of (title, array) pairs. "
                            f"Received: stages={stages!r:.80}")
        panels = [_as_panel(str(name), array) for name, array in stages]
    if not panels:
        raise ValueError("There is nothing to draw: `stages` is empty. Received: stages=[]")
    if int(max_channels) < 1:
        raise ValueError(f"`max_channels` must be >= 1. Received: max_channels={max_channels}")

    channel_counts = [1 if kind == "vector" else data.shape[-1] for _, data, kind in panels]
    rows = min(int(max_channels), max(channel_counts))
    columns = len(panels)
    figure = _figure_class()(figsize=(2.6 * columns, 2.6 * rows + (0.4 if title else 0.0)),
                             dpi=dpi, layout="constrained")
    if title:
        figure.suptitle(title)
    grid = figure.subplots(rows, columns, squeeze=False)
    for column, ((name, data, kind), channels) in enumerate(zip(panels, channel_counts)):
        for row in range(rows):
            axes = grid[row][column]
            if row < channels:
                _draw_panel(axes, name if row == 0 else "", data, kind, row, cmap, robust)
            else:
                axes.set_axis_off()
    figure.savefig(path, format="png")
    return path


# --------------------------------------------------------------------------------------------- training curves
def training_history(history, path=None, *, title: str | None = None, dpi: int = 100) -> str:
    """Plot the curves ``model.fit`` returned, one panel per quantity (loss first), and save a PNG at ``path``.

    ``history`` is the History object from ``fit`` (its ``.history`` dict is read) or such a dict directly, e.g.
    ``{"loss": [...], "accuracy": [...], "val_loss": [...], "val_accuracy": [...]}``. Each panel shows the
    training curve and, when present, the ``val_`` curve against the epoch number. Returns ``path``.
    """
    path = _check_path(path)
    curves = getattr(history, "history", history)
    if not isinstance(curves, dict) or not curves:
        raise TypeError("`history` must be the History returned by fit() or a non-empty dict of per-epoch lists. "
                        f"Received: history={history!r:.80}")
    names = [key for key in curves if not key.startswith("val_")]
    names += [key[4:] for key in curves if key.startswith("val_") and key[4:] not in curves]
    names.sort(key=lambda key: (key != "loss", key))
    figure = _figure_class()(figsize=(4.2 * len(names), 3.4 + (0.3 if title else 0.0)), dpi=dpi,
                             layout="constrained")
    if title:
        figure.suptitle(title)
    grid = figure.subplots(1, len(names), squeeze=False)
    for axes, name in zip(grid[0], names):
        for key, label, style in ((name, "train", "-"), ("val_" + name, "validation", "--")):
            if key in curves:
                values = np.asarray(curves[key], dtype=np.float64).ravel()
                axes.plot(np.arange(1, values.size + 1), values, style, marker="o" if values.size <= 30 else None,
                          markersize=3, label=label)
        axes.set_title(name)
        axes.set_xlabel("epoch")
        axes.grid(True, alpha=0.3)
        axes.legend(fontsize=8)
        axes.xaxis.get_major_locator().set_params(integer=True)
    figure.savefig(path, format="png")
    return path

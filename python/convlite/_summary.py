"""model.summary() text: Keras 3's box table (drawn by rich there) reproduced without rich, plus a FLOPs column.

The column layout follows Keras (positions 0.45/0.8/1.0 of the line length, 88 characters or the terminal width
minus 4) and rich's table geometry (1 character of padding each side, borders, and rich's even reduction of the
columns so the table fits the line length), so the plain text matches ``keras.Model.summary(print_fn=...)``.
"""
from __future__ import annotations

import shutil

__all__ = ["format_summary", "readable_memory_size"]

_KERAS_HEADER = ["Layer (type)", "Output Shape", "Param #"]
_KERAS_ALIGN = ["left", "left", "right"]


def readable_memory_size(num_bytes):
    """'4.79 KB' as Keras prints it (powers of 1024, two decimals)."""
    for unit in ["B", "KB", "MB", "GB", "TB", "PB"]:
        if num_bytes / 1024 < 1:
            return f"{num_bytes:.2f} {unit}"
        num_bytes /= 1024
    return f"{num_bytes:.2f} PB"


def format_shape(shape):
    """Keras's '(None, 98, 16)'; a rank-1 shape prints as '(None)'; unknown as '?'."""
    if shape is None:
        return "?"
    return "(" + ", ".join(str(d) for d in shape) + ")"


def _format_count(value):
    if value is None:
        return "0 (unbuilt)"
    return f"{int(value):,}" if not isinstance(value, str) else value


def _ratio_reduce(total, ratios, maximums, values):
    """rich._ratio.ratio_reduce: take `total` away from `values` in proportion to `ratios` (Python rounding)."""
    ratios = [r if m else 0 for r, m in zip(ratios, maximums)]
    total_ratio = sum(ratios)
    if not total_ratio:
        return values[:]
    remaining, result = total, []
    for ratio, maximum, value in zip(ratios, maximums, values):
        if ratio and total_ratio > 0:
            distributed = min(maximum, round(ratio * remaining / total_ratio))
            result.append(value - distributed)
            remaining -= distributed
            total_ratio -= ratio
        else:
            result.append(value)
    return result


def _column_widths(line_length, positions):
    """Content widths of the columns after rich fits Keras's requested widths into `line_length`."""
    requested, current = [], 0
    for pos in positions:
        width = int(pos * line_length) - current
        if width < 4:
            raise ValueError(f"Insufficient console width to print summary. Received: line_length={line_length}")
        requested.append(width)
        current += width
    padded = [w + 2 for w in requested]  # one space of padding each side
    available = line_length - (len(positions) + 1)  # borders
    excess = sum(padded) - available
    if excess > 0:
        padded = _ratio_reduce(excess, [1] * len(padded), padded, padded)
    return [w - 2 for w in padded]


def _wrap(text, width):
    """Greedy word wrap as rich's divide_line; a word longer than the cell is cut with '…'."""
    lines, line = [], ""
    for word in text.split(" "):
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}" if line else word
    lines.append(line)
    return [ln if len(ln) <= width else ln[: width - 1] + "…" for ln in lines]


def _fitted_count(value, width):
    """A count with thousands separators, or with an SI suffix (``4.46M``) when that would not fit `width`:
    a narrow terminal shortens the FLOPs column, and a truncated number ("4,46…") reads as a different one."""
    text = _format_count(value)
    if len(text) <= width or not isinstance(value, (int, float)):
        return text
    units = ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "K"))
    for index, (scale, suffix) in enumerate(units):
        if abs(value) >= scale:
            candidates = []
            for digits in (3, 2, 1):
                mantissa, unit = float(f"{value / scale:.{digits}g}"), suffix
                if abs(mantissa) >= 1000 and index > 0:  # 999,999 rounds to 1000K: say 1M
                    mantissa, unit = mantissa / 1000, units[index - 1][1]
                candidates.append(f"{mantissa:g}{unit}")
            return next((c for c in candidates if len(c) <= width), candidates[-1])
    return text


def _render_row(cells, widths, aligns, vertical="│"):
    wrapped = [_wrap(cell, w) for cell, w in zip(cells, widths)]
    height = max(len(w) for w in wrapped)
    out = []
    for i in range(height):
        parts = []
        for lines, width, align in zip(wrapped, widths, aligns):
            text = lines[i] if i < len(lines) else ""
            if align == "right":
                parts.append(text.rjust(width))
            elif align == "center":
                parts.append(text.center(width))
            else:
                parts.append(text.ljust(width))
        out.append(vertical + vertical.join(f" {p} " for p in parts) + vertical)
    return out


def _rule(widths, left, fill, middle, right):
    return left + middle.join(fill * (w + 2) for w in widths) + right


def format_summary(model_name, rows, total_params, trainable_params, non_trainable_params, extra_column=None,
                   line_length=None, optimizer_params=None, bytes_per_param=4, trainable_marks=None,
                   positions=None):
    """The text ``model.summary()`` prints.

    Args:
        model_name: the model's name, shown as ``Model: "name"``.
        rows: one tuple per layer: ``(name_and_type, output_shape, param_count[, extra])`` where
            name_and_type is e.g. ``'conv1d (Conv1D)'``, output_shape a tuple with None for the batch (or None
            when unknown), param_count an int (None for an unbuilt layer) and extra the value of `extra_column`.
        total_params, trainable_params, non_trainable_params: counts for the footer (total includes optimizer
            variables when `optimizer_params` is given, as Keras does).
        extra_column: header of a fourth column (convlite's 'FLOPs'); None gives Keras's three columns.
        line_length: total width; default as Keras: 88 (+12 with an extra column) capped at terminal width - 4.
        optimizer_params: optimizer variable count; when given, Keras's 'Optimizer params' line is printed.
        bytes_per_param: 4 for float32 weights.
        trainable_marks: summary(show_trainable=True): 'Y' / 'N' / '-' per row, Keras's centred 'Trainable'
            column (after Param #, before convlite's extra column).
        positions: Keras's relative column ends (e.g. [0.45, 0.8, 1.0]) for the three Keras columns.
    """
    header, aligns = list(_KERAS_HEADER), list(_KERAS_ALIGN)
    positions = list(positions or [0.45, 0.8, 1.0])
    default_line_length = 88
    if trainable_marks is not None:  # as Keras's print_summary adds it
        default_line_length += 12
        positions = [p * 0.9 for p in positions] + [1.0]
        header.append("Trainable")
        aligns.append("center")
    if extra_column is not None:
        default_line_length += 12
        positions = [p * 0.9 for p in positions] + [1.0]
        header.append(extra_column)
        aligns.append("right")
    default_line_length = min(default_line_length, shutil.get_terminal_size().columns - 4)
    widths = _column_widths(line_length or default_line_length, positions)

    lines = [f'Model: "{model_name}"', _rule(widths, "┏", "━", "┳", "┓")]
    lines += _render_row(header, widths, aligns, vertical="┃")
    lines.append(_rule(widths, "┡", "━", "╇", "┩"))
    for index, row in enumerate(rows):
        cells = [str(row[0]), format_shape(row[1]), _format_count(row[2])]
        if trainable_marks is not None:
            cells.append(trainable_marks[index])
        if extra_column is not None:
            extra = row[3] if len(row) > 3 else None
            cells.append("-" if extra is None else _fitted_count(extra, widths[-1]))
        if index:
            lines.append(_rule(widths, "├", "─", "┼", "┤"))
        lines += _render_row(cells, widths, aligns)
    lines.append(_rule(widths, "└", "─", "┴", "┘"))

    def footer(label, count):
        return f" {label}: {count:,} ({readable_memory_size(count * bytes_per_param)})"

    lines.append(footer("Total params", total_params))
    lines.append(footer("Trainable params", trainable_params))
    lines.append(footer("Non-trainable params", non_trainable_params))
    if optimizer_params is not None:
        lines.append(footer("Optimizer params", optimizer_params))
    return "\n".join(lines) + "\n"

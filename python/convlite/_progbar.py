"""The progress bar Keras 3 draws during fit/evaluate/predict, reproduced character for character.

verbose=1 redraws one line in place (``\\b``s then ``\\r``, ANSI bold/green/grey, 20 ``━`` glyphs);
verbose=2 prints one line when the bar is finalised. Same averaging rules as ``keras.utils.Progbar``:
metrics not listed as stateful are averaged over the steps seen, weighted by the steps each update covered.
"""
from __future__ import annotations

import math
import os
import sys
import time

import numpy as np

__all__ = ["Progbar", "print_msg"]


def print_msg(message, line_break=True):
    """Write to stdout and flush (as keras.src.utils.io_utils.print_msg with interactive logging)."""
    message = str(message)
    if line_break:
        message += "\n"
    try:
        sys.stdout.write(message)
    except UnicodeEncodeError:
        # A terminal without UTF-8: fall back to Keras 2's '=' bar, as Keras does.
        encoding = sys.stdout.encoding or "utf-8"
        sys.stdout.write(message.replace("━", "=").encode(encoding, errors="ignore").decode(encoding))
    sys.stdout.flush()


class Progbar:
    """Display a progress bar.

    Args:
        target: total number of steps expected, None if unknown.
        width: progress bar width on screen.
        verbose: 0 (silent), 1 (bar redrawn in place), 2 (one line when finalised).
        interval: minimum visual progress update interval (in seconds).
        stateful_metrics: names of metrics shown as given (not averaged); all others are averaged.
        stateless_metrics: the opposite switch: names averaged; all others shown as given. Only one of the two.
        unit_name: display name for the step counted by the bar.
    """

    def __init__(self, target, width=20, verbose=1, interval=0.05, stateful_metrics=None,
                 stateless_metrics=None, unit_name="step"):
        if stateful_metrics is not None and stateless_metrics is not None:
            raise ValueError(
                "Only one of `stateful_metrics` or `stateless_metrics` can be provided. "
                f"Received: stateful_metrics={stateful_metrics}, stateless_metrics={stateless_metrics}"
            )
        self.target = target
        self.width = width
        self.verbose = verbose
        self.interval = interval
        self.unit_name = unit_name
        if stateful_metrics is not None:
            self.stateful_metrics, self.stateless_metrics = set(stateful_metrics), None
        elif stateless_metrics is not None:
            self.stateful_metrics, self.stateless_metrics = None, set(stateless_metrics)
        else:
            self.stateful_metrics, self.stateless_metrics = set(), None
        # Keras's test: a tty, a notebook, PyCharm -- or any POSIX system ('posix' is always in sys.modules there),
        # so on Linux the line is always redrawn with \r, even into a pipe.
        self._dynamic_display = (
            (hasattr(sys.stdout, "isatty") and sys.stdout.isatty())
            or "ipykernel" in sys.modules
            or "posix" in sys.modules
            or "PYCHARM_HOSTED" in os.environ
        )
        self._seen_so_far = 0
        self._values = {}
        self._values_order = []
        self._start = time.time()
        self._last_update = 0
        self._time_at_epoch_start = self._start
        self._time_after_first_step = None
        self._prev_total_width = 0

    def _accumulate(self, current, values, finalize):
        for k, v in values:
            if k not in self._values_order:
                self._values_order.append(k)
            if self.stateful_metrics is not None:
                stateless = k not in self.stateful_metrics
            else:
                stateless = k in self.stateless_metrics
            if not stateless or finalize:
                self._values[k] = [v, 1]
                continue
            value_base = max(current - self._seen_so_far, 1)
            if k not in self._values:
                self._values[k] = [v * value_base, value_base]
            else:
                self._values[k][0] += v * value_base
                self._values[k][1] += value_base

    def _average(self, k):
        values, count = self._values[k]
        if not isinstance(values, float):
            values = np.mean(values)
        return values / max(1, count)

    def update(self, current, values=None, finalize=None):
        """Update the bar to step `current` with `values`, a list of (name, value) pairs."""
        if finalize is None:
            finalize = False if self.target is None else current >= self.target
        self._accumulate(current, values or [], finalize)
        self._seen_so_far = current
        now = time.time()
        time_per_unit = self._estimate_step_duration(current, now)
        if self.verbose == 1:
            if now - self._last_update < self.interval and not finalize:
                return
            self._draw_dynamic(current, now, time_per_unit, finalize)
        elif self.verbose == 2 and finalize and self.target is not None and self.target > 0:
            numdigits = int(math.log10(self.target)) + 1
            info = f"%{numdigits}d/%d" % (current, self.target) + f" - {now - self._start:.0f}s"
            info += f" -{self._format_time(time_per_unit, self.unit_name)}"
            for k in self._values_order:
                avg = self._average(k)
                # Keras tests `avg > 0.001` here (not abs), so negative values print in e-notation.
                info += f" - {k}: {avg:.4f}" if avg > 0.001 else f" - {k}: {avg:.4e}"
            print_msg(info + "\n", line_break=False)
        self._last_update = now

    def _draw_dynamic(self, current, now, time_per_unit, finalize):
        message = ("\b" * self._prev_total_width + "\r") if self._dynamic_display else "\n"
        special_char_len = 0
        if self.target is not None and self.target > 0:
            numdigits = int(math.log10(self.target)) + 1
            bar = f"\x1b[1m{f'%{numdigits}d/%d' % (current, self.target)}\x1b[0m "
            special_char_len += 8
            prog_width = int(self.width * (float(current) / self.target))
            if prog_width > 0:
                bar += f"\x1b[32m{'━' * prog_width}\x1b[0m"
                special_char_len += 9
            bar += f"\x1b[37m{'━' * (self.width - prog_width)}\x1b[0m"
            special_char_len += 9
        else:
            bar = "%7d/Unknown" % current
        message += bar
        if self.target is not None and self.target > 0 and not finalize:
            eta = time_per_unit * (self.target - current)
            if eta > 3600:
                eta_format = "%d:%02d:%02d" % (eta // 3600, (eta % 3600) // 60, eta % 60)
            elif eta > 60:
                eta_format = "%d:%02d" % (eta // 60, eta % 60)
            else:
                eta_format = "%ds" % eta
            info = f" \x1b[1m{eta_format}\x1b[0m"
        else:
            info = f" \x1b[1m{now - self._start:.0f}s\x1b[0m"
        special_char_len += 8
        info += self._format_time(time_per_unit, self.unit_name)
        for k in self._values_order:
            info += f" - {k}:"
            if isinstance(self._values[k], list):
                avg = self._average(k)
                info += f" {avg:.4f}" if abs(avg) > 0.001 else f" {avg:.4e}"
            else:
                info += f" {self._values[k]}"
        message += info
        total_width = len(bar) + len(info) - special_char_len
        if self._prev_total_width > total_width:
            message += " " * (self._prev_total_width - total_width)
        if finalize:
            message += "\n"
        print_msg(message, line_break=False)
        self._prev_total_width = total_width

    def add(self, n, values=None):
        self.update(self._seen_so_far + n, values)

    @staticmethod
    def _format_time(time_per_unit, unit_name):
        if time_per_unit >= 1 or time_per_unit == 0:
            return f" {time_per_unit:.0f}s/{unit_name}"
        if time_per_unit >= 1e-3:
            return f" {time_per_unit * 1e3:.0f}ms/{unit_name}"
        return f" {time_per_unit * 1e6:.0f}us/{unit_name}"

    def _estimate_step_duration(self, current, now):
        """Time per step, leaving the first step (compilation in Keras, buffer allocation here) out once possible."""
        if not current:
            return 0
        if self._time_after_first_step is not None and current > 1:
            time_per_unit = (now - self._time_after_first_step) / (current - 1)
        else:
            time_per_unit = (now - self._start) / current
        if current == 1:
            self._time_after_first_step = now
        return time_per_unit

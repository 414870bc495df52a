"""Pieces the training examples share: the command line, seeding, the epoch timer and the summary lines."""
from __future__ import annotations

import argparse
import os
import time

import convlite
from convlite.callbacks import Callback


def parser(description: str, *, epochs: int, batch_size: int = 32) -> argparse.ArgumentParser:
    """The options every training example takes; each example adds its own."""
    parse = argparse.ArgumentParser(description=description)
    parse.add_argument("--epochs", type=int, default=epochs, help=f"training epochs (default {epochs})")
    parse.add_argument("--batch-size", type=int, default=batch_size, help=f"batch size (default {batch_size})")
    parse.add_argument("--seed", type=int, default=0, help="random seed; the same seed gives the same run (default 0)")
    parse.add_argument("--verbose", type=int, default=1, choices=(0, 1, 2),
                       help="model.fit verbosity as in Keras: 1 progress bar, 2 one line per epoch, 0 silent")
    parse.add_argument("--plot", action="store_true", help="write the training curves as a PNG in --out-dir")
    parse.add_argument("--out-dir", default=".", help="where --plot writes its PNG (default: the working directory)")
    return parse


def seed_everything(seed: int) -> None:
    convlite.utils.set_random_seed(seed)


class EpochTimer(Callback):
    """Prints the wall time of every epoch (``time per epoch: ...``) under Keras's progress line."""

    def __init__(self, verbose: int = 1):
        super().__init__()
        self.verbose = verbose
        self.seconds: list[float] = []

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds.append(time.perf_counter() - self._start)
        if self.verbose:
            print(f"epoch {epoch + 1}: {self.seconds[-1] * 1000:.1f} ms", flush=True)

    def summary(self) -> str:
        mean = sum(self.seconds) / max(len(self.seconds), 1)
        return f"time per epoch: {mean * 1000:.1f} ms (mean of {len(self.seconds)} epochs)"


def write_history_plot(history, out_dir: str, name: str, title: str) -> str:
    from convlite.plot import training_history

    os.makedirs(out_dir, exist_ok=True)
    path = training_history(history, os.path.join(out_dir, name), title=title)
    print(f"wrote {path}")
    return path

"""Pieces the training examples share: the command line, seeding, the epoch timer and the summary lines."""
from __future__ import annotations

import argparse
import os
import time

import convlite
from convlite.callbacks import Callback


def parser(name: str, description: str, *, epochs, batch_size: int = 32) -> argparse.ArgumentParser:
    """The options every training example takes; each example adds its own. `epochs` is the default number, or
    a text describing the defaults when they depend on other options (the example then resolves None itself)."""
    parse = argparse.ArgumentParser(prog=f"python -m convlite.examples.{name}", description=description)
    parse.add_argument("--epochs", type=int, default=epochs if isinstance(epochs, int) else None,
                       help=f"training epochs (default {epochs})")
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
    """Measures the wall time of every epoch; ``summary()`` gives the ``time per epoch`` line printed after fit.

    (Printing inside on_epoch_end would land in the middle of Keras's progress line, which is finalised after the
    user's callbacks run, so the times are reported once training is over.)"""

    def __init__(self):
        super().__init__()
        self.seconds: list[float] = []

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds.append(time.perf_counter() - self._start)

    def summary(self) -> str:
        if not self.seconds:
            return "time per epoch: no epoch ran"
        ms = [seconds * 1000 for seconds in self.seconds]
        if len(ms) == 1:
            return f"time per epoch: {ms[0]:.1f} ms (1 epoch)"
        later = ms[1:] or ms
        return (f"time per epoch: {sum(later) / len(later):.1f} ms (mean over epochs 2..{len(ms)}; "
                f"epoch 1 took {ms[0]:.1f} ms, total {sum(ms) / 1000:.2f} s)")


def train_classifier(name: str, doc: str, load, build_model, *, epochs: int, validation_split: float,
                     plot_title: str, argv=None) -> float:
    """The digits and MNIST examples' whole run: options, data, fit with an epoch timer, test accuracy, plot.

    `load()` returns ((x_train, y_train), (x_test, y_test)); `build_model()` a compiled classifier."""
    parse = parser(name, doc.splitlines()[0], epochs=epochs)
    parse.add_argument("--validation-split", type=float, default=validation_split,
                       help=f"fraction of the training split held out for validation curves (default {validation_split})")
    args = parse.parse_args(argv)
    seed_everything(args.seed)
    (x_train, y_train), (x_test, y_test) = load()
    print(f"{name}: train {x_train.shape}, test {x_test.shape}")
    return fit_and_report(build_model(), (x_train, y_train), (x_test, y_test), args, args.epochs,
                          f"{name}_history.png", plot_title)


def fit_and_report(model, train, test, args, epochs: int, plot_name: str, plot_title: str) -> float:
    """Every training example's end: fit with the epoch timer (options from `args`), print the time per epoch
    and the test loss and accuracy lines, write the history plot with --plot; returns the test accuracy."""
    timer = EpochTimer()
    history = model.fit(*train, epochs=epochs, batch_size=args.batch_size, validation_split=args.validation_split,
                        verbose=args.verbose, callbacks=[timer])
    print(timer.summary())
    loss, accuracy = model.evaluate(*test, batch_size=256, verbose=0)
    print(f"test loss: {loss:.4f}")
    print(f"test accuracy: {accuracy:.4f}")
    if args.plot:
        write_history_plot(history, args.out_dir, plot_name, plot_title)
    return accuracy


def write_history_plot(history, out_dir: str, name: str, title: str) -> str:
    from convlite.plot import training_history

    os.makedirs(out_dir, exist_ok=True)
    path = training_history(history, os.path.join(out_dir, name), title=title)
    print(f"wrote {os.path.abspath(path)}")  # absolute, as the edges example prints it (the default --out-dir is .)
    return path

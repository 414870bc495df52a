"""A small Conv2D network on scikit-learn's handwritten digits (8x8 pixels, 10 classes).

    python -m convlite.examples.digits [--epochs N] [--seed S] [--plot]

Conv2D(32, 3, same, relu) -> MaxPooling2D(2) -> Conv2D(64, 3, same, relu) -> Flatten -> Dropout(0.3) ->
Dense(10, softmax), Adam, sparse categorical cross-entropy. The data set has no official split:
convlite.datasets.load_digits holds out a fixed, stratified 20 % (359 images) as the test set.
"""
from __future__ import annotations

import convlite
from convlite import datasets
from convlite.examples import _common


def build_model():
    layers = convlite.layers
    model = convlite.Sequential([
        layers.Input((8, 8, 1)),
        layers.Conv2D(32, 3, padding="same", activation="relu"),
        layers.MaxPooling2D(2),
        layers.Conv2D(64, 3, padding="same", activation="relu"),
        layers.Flatten(),
        layers.Dropout(0.3),
        layers.Dense(10, activation="softmax"),
    ])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def main(argv=None) -> float:
    parse = _common.parser("digits", __doc__.splitlines()[0], epochs=60)
    parse.add_argument("--validation-split", type=float, default=0.0,
                       help="fraction of the training split held out for validation curves (default 0)")
    args = parse.parse_args(argv)
    _common.seed_everything(args.seed)
    (x_train, y_train), (x_test, y_test) = datasets.load_digits()
    print(f"digits: train {x_train.shape}, test {x_test.shape}")
    model = build_model()
    timer = _common.EpochTimer()
    history = model.fit(x_train, y_train, epochs=args.epochs, batch_size=args.batch_size,
                        validation_split=args.validation_split, verbose=args.verbose, callbacks=[timer])
    print(timer.summary())
    loss, accuracy = model.evaluate(x_test, y_test, batch_size=256, verbose=0)
    print(f"test loss: {loss:.4f}")
    print(f"test accuracy: {accuracy:.4f}")
    if args.plot:
        _common.write_history_plot(history, args.out_dir, "digits_history.png", "digits: small Conv2D network")
    return accuracy


if __name__ == "__main__":
    main()

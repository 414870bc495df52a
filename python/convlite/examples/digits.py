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
    return _common.train_classifier("digits", __doc__, datasets.load_digits, build_model, epochs=60,
                                    validation_split=0.0, plot_title="digits: small Conv2D network", argv=argv)


if __name__ == "__main__":
    main()

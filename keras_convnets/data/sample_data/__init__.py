"""A stratified sample of Fashion-MNIST shipped with the package (MIT licence, Zalando SE).

5,000 training images (the first 500 of each class in the official training
split) and 1,000 test images (the first 100 of each class in the test split),
28x28 grayscale uint8, so that the quickstart runs on a machine with no data
and no internet. ``index_train``/``index_test`` give each image's position in
the official split. Licence: ``LICENSE-fashion-mnist.txt`` beside this file.
"""

from __future__ import annotations

import os

import numpy as np

SAMPLE_PATH = os.path.join(os.path.dirname(__file__), "fashion_mnist_sample.npz")


def load_fashion_mnist_sample(split="train"):
    """``(images [N, 28, 28, 1] uint8, labels [N] int64)`` of the shipped sample.

    Example:
        >>> from keras_convnets.data.sample_data import load_fashion_mnist_sample
        >>> x, y = load_fashion_mnist_sample("test")
        >>> x.shape, int(y.max())
        ((1000, 28, 28, 1), 9)
    """
    if split not in ("train", "test"):
        raise ValueError(f"`split` must be 'train' or 'test'. Received: split={split!r}")
    with np.load(SAMPLE_PATH) as f:
        return f[f"x_{split}"][..., None], f[f"y_{split}"].astype(np.int64)

"""Labelled uint8 images for representative data and parity reports.

Until :mod:`keras_convnets.data` offers a ``tf.data`` pipeline, this reads
Fashion-MNIST with :func:`keras_convnets.data.load_idx_dataset` and leaves the
images as they are stored (uint8, 28x28x1): the resize to the model's size and
grayscale -> RGB happen in :func:`keras_convnets.deploy.preprocessing.prepare`,
the very function the exported SavedModel runs, so that training, calibration,
evaluation and serving see identical inputs.
"""

from __future__ import annotations

import numpy as np

from keras_convnets import data

DATASETS = ("fashion_mnist",)


def check_dataset(name):
    """Raises ``ValueError`` unless ``name`` is a known dataset (or ``None``)."""
    if name is not None and name not in DATASETS:
        raise ValueError(
            f"`dataset` must be one of {', '.join(DATASETS)} or None. Received: dataset={name!r}"
        )


def load_images(name, split="test", *, count=None, directory=None, seed=0):
    """``(images uint8 [N, h, w, c], labels int64 [N])``, the first ``count`` of a shuffle.

    The shuffle is seeded, so a given ``count`` always returns the same images.

    Example:
        >>> x, y = load_images("fashion_mnist", "test", count=4)
        >>> x.shape, x.dtype.name, y.shape
        ((4, 28, 28, 1), 'uint8', (4,))
    """
    check_dataset(name)
    if count is not None and (isinstance(count, bool) or not isinstance(count, int) or count < 1):
        raise ValueError(f"`count` must be an integer >= 1 or None. Received: count={count!r}")
    images, labels = data.load_idx_dataset(directory or data.FASHION_MNIST_DIR, split)
    order = np.random.default_rng(seed).permutation(len(images))
    if count is not None:
        order = order[:count]
    return images[order], labels[order]


def labels_for(name):
    """The class names of a dataset, in class-index order."""
    check_dataset(name)
    return list(data.FASHION_MNIST_LABELS)

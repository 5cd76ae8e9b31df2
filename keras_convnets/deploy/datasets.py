"""Labelled uint8 images for representative data, parity reports and QAT.

Every source training takes works here, through the one catalogue of
:mod:`keras_convnets.data` and its split rules and decoding: a catalogue name
(``fashion_mnist``, ``cifar10``, ...), ``folder`` with a ``data_dir``, or simply
the path of an image folder (either layout of
:data:`keras_convnets.data.FOLDER_LAYOUTS`) or of a folder of MNIST-layout IDX
files. Images are left as stored (uint8): the resize, channel adaptation and
normalisation happen in :mod:`keras_convnets.deploy.preprocessing`, the very
transform the exported model embeds.
"""

from __future__ import annotations

import dataclasses
import os

import numpy as np

from keras_convnets import data


@dataclasses.dataclass(frozen=True)
class DataSource:
    """A dataset of the catalogue with the split rules of the run that used it."""

    name: str
    data_dir: str | None = None
    val_fraction: float = 0.1
    split_seed: int = 0

    def __str__(self):
        return self.name if self.data_dir is None else f"{self.name} ({self.data_dir})"


def _has_idx(directory) -> bool:
    return any("-idx" in name for name in os.listdir(directory))


def source(dataset, data_dir=None) -> DataSource | None:
    """The :class:`DataSource` of a name, a folder path or a source (``None`` stays ``None``).

    Example:
        >>> str(source("cifar10", "/data/tfds"))
        'cifar10 (/data/tfds)'
    """
    if dataset is None or isinstance(dataset, DataSource):
        return dataset
    dataset = os.fspath(dataset)
    if dataset in data.DATASETS:
        if dataset == "folder" and data_dir is None:
            raise ValueError("`dataset`='folder' needs `data_dir` (the image folder).")
        return DataSource(dataset, data_dir)
    if os.path.isdir(dataset):
        return DataSource("fashion_mnist" if _has_idx(dataset) else "folder", dataset)
    raise ValueError(
        f"`dataset` must be one of {', '.join(data.DATASETS)}, an image folder or a folder of "
        f"IDX files, or None. Received: dataset={dataset!r}"
    )


def check_dataset(name):
    """Raises ``ValueError`` unless ``name`` is a known source (or ``None``); returns it."""
    return source(name)


def load_split(name, split="test"):
    """The :class:`keras_convnets.data.Split` of a source, with its split rules."""
    src = source(name)
    return data.load_split(
        src.name,
        split,
        data_dir=src.data_dir,
        val_fraction=src.val_fraction,
        split_seed=src.split_seed,
    )


def load_images(name, split="test", *, count=None, directory=None, seed=0, size=None, log=None):
    """``(images uint8 [N, h, w, c], labels int64 [N])``: ``count`` images drawn with ``seed``.

    ``directory`` is the source's ``data_dir``. A given ``count`` always returns
    the same images. Images of different sizes (a folder of photos) are brought
    to ``size`` ``(h, w)`` as training brings them to the model's input
    (:func:`keras_convnets.data.split_arrays`); images of one size stay as stored.
    ``log`` (e.g. ``print``) gets the lines naming skipped sub-folders and unreadable files.

    Example:
        >>> import tempfile
        >>> d = tempfile.mkdtemp()
        >>> for c in ("cat", "dog"):
        ...     os.makedirs(os.path.join(d, c))
        ...     for i in range(3):
        ...         _ = open(os.path.join(d, c, f"{i}.png"), "wb").write(_png(i))
        >>> x, y = load_images(d, "train", count=4)
        >>> x.shape, x.dtype.name, sorted(set(y.tolist()))
        ((4, 5, 5, 3), 'uint8', [0, 1])
    """
    if count is not None and (isinstance(count, bool) or not isinstance(count, int) or count < 1):
        raise ValueError(f"`count` must be an integer >= 1 or None. Received: count={count!r}")
    src = source(name, directory) if directory is not None else source(name)
    whole = load_split(src, "train_full" if split == "train" and not src.val_fraction else split)
    for line in data.describe_skipped(whole) if log is not None else ():
        log(line)
    if whole.images is None and whole.paths is None:  # streamed TFDS: the first ``count``
        return data.split_arrays(whole, count, size=size)
    order = np.random.default_rng(seed).permutation(whole.num_examples)[:count]
    return data.split_arrays(data.take_examples(whole, order), size=size)


def labels_for(name):
    """The class names of a source, in class-index order (``"0"``, ``"1"``, ... when unnamed)."""
    src = source(name)
    if src.name == "folder":
        return list(load_split(src, "test").class_names)
    info = data.dataset_info(src.name)
    return info.label_names(info.classes)


def _png(seed) -> bytes:
    """A 5x5 RGB PNG (for the example above)."""
    import tensorflow as tf

    pixels = np.random.default_rng(seed).integers(0, 255, (5, 5, 3), dtype=np.uint8)
    return tf.io.encode_png(pixels).numpy()

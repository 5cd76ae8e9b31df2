"""IDX files (MNIST, Fashion-MNIST) read without any download.

The Debian package ``dataset-fashion-mnist`` installs Fashion-MNIST under
:data:`FASHION_MNIST_DIR`; that is how the tests and CI get real images offline.
"""

from __future__ import annotations

import gzip
import os
import zlib

import numpy as np

FASHION_MNIST_DIR = "/usr/share/datasets/fashion-mnist"
FASHION_MNIST_LABELS = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)
_IDX_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path) -> np.ndarray:
    """Reads an IDX file (optionally gzip-compressed) into a NumPy array."""
    opener = gzip.open if os.fspath(path).endswith(".gz") else open
    try:
        with opener(path, "rb") as f:
            data = f.read()
    except (EOFError, gzip.BadGzipFile, zlib.error) as err:
        raise ValueError(f"{os.fspath(path)!r} is truncated or corrupt: {err}.") from None
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in _IDX_DTYPES:
        raise ValueError(f"{os.fspath(path)!r} is not an IDX file (bad magic number).")
    dtype = np.dtype(_IDX_DTYPES[data[2]])
    ndim = data[3]
    dims = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    offset = 4 + 4 * ndim
    expected = int(np.prod(dims)) * dtype.itemsize
    if len(data) - offset != expected:
        raise ValueError(
            f"{os.fspath(path)!r} is truncated or corrupt: header says {dims} "
            f"({expected} bytes), found {len(data) - offset} bytes."
        )
    return (
        np.frombuffer(data, dtype=dtype, offset=offset)
        .reshape(dims)
        .astype(dtype.newbyteorder("="))
    )


def load_idx_dataset(directory, split="train"):
    """``(images [N, H, W, 1] uint8, labels [N] int64)`` from MNIST-layout IDX files."""
    if split not in ("train", "test"):
        raise ValueError(f"`split` must be 'train' or 'test'. Received: split={split!r}")
    prefix = "train" if split == "train" else "t10k"
    found = {}
    for kind, stem in (
        ("images", f"{prefix}-images-idx3-ubyte"),
        ("labels", f"{prefix}-labels-idx1-ubyte"),
    ):
        for candidate in (stem + ".gz", stem):
            path = os.path.join(directory, candidate)
            if os.path.exists(path):
                found[kind] = path
                break
        else:
            raise ValueError(
                f"No {stem}[.gz] in data_dir {os.fspath(directory)!r}; expected MNIST-layout IDX "
                "files (on Debian: apt-get install dataset-fashion-mnist)."
            )
    try:
        images = read_idx(found["images"])[..., None]
        labels = read_idx(found["labels"]).astype(np.int64)
    except ValueError as err:
        raise ValueError(f"IDX files in data_dir {os.fspath(directory)!r}: {err}") from None
    if len(images) != len(labels):
        raise ValueError(f"{len(images)} images but {len(labels)} labels in {directory!r}.")
    return images, labels

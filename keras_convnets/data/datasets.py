"""Datasets by name (one catalogue), their splits, and the ``tf.data`` input pipelines.

Sources: local IDX files (:mod:`keras_convnets.data.idx`), image folders and
``tensorflow_datasets``. Every split of a training set into train and
validation is a seeded, stratified holdout (:func:`stratified_holdout`).
"""

from __future__ import annotations

import dataclasses
import functools
import os

import numpy as np

from keras_convnets.data.idx import FASHION_MNIST_DIR, FASHION_MNIST_LABELS, load_idx_dataset

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif")
# Decoded datasets smaller than this are held in memory (decode once, exact sharding).
IN_MEMORY_LIMIT_BYTES = 2 * 1024**3
CIFAR10_LABELS = (
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
)
FOLDER_LAYOUTS = """\
Image folders (dataset 'folder', data_dir=ROOT), one sub-folder per class:
  ROOT/<class>/<image>: one folder; a seeded, stratified val_fraction of each class
      is held out as the test split, the same fraction of the rest for validation;
  ROOT/train/<class>/<image> + ROOT/val|validation|test/<class>/<image>: the second
      folder is the test split; validation is a stratified holdout of train/.
Class names are the sorted sub-folder names; .jpg .jpeg .png .bmp .gif files.
Hidden entries (names starting with '.', e.g. .ipynb_checkpoints/, ._photo.jpg) and
sub-folders without images are skipped (and named); at least two classes are needed."""


@dataclasses.dataclass(frozen=True)
class DatasetInfo:
    """A dataset the recipes know by name."""

    name: str
    tfds_name: str | None  # builder name in tensorflow-datasets
    classes: int | None  # None: read from the data (image folders)
    image_shape: tuple  # (H, W, C); None for variable sizes
    train_split: str = "train"
    test_split: str = "test"
    idx_dir: str | None = None  # local MNIST-layout IDX files, used when present
    manual: bool = False  # TFDS needs manually downloaded archives (manual_dir)
    train_size: int | None = None
    class_names: tuple = ()  # in class-index order; () when read from the data

    def label_names(self, classes: int) -> list:
        """The class names, or ``"0"``, ``"1"``, ... when the catalogue has none."""
        return list(self.class_names) or [str(i) for i in range(classes)]


DATASETS = {
    "cifar10": DatasetInfo(
        "cifar10", "cifar10", 10, (32, 32, 3), train_size=50_000, class_names=CIFAR10_LABELS
    ),
    "cifar100": DatasetInfo("cifar100", "cifar100", 100, (32, 32, 3), train_size=50_000),
    "fashion_mnist": DatasetInfo(
        "fashion_mnist",
        "fashion_mnist",
        10,
        (28, 28, 1),
        idx_dir=FASHION_MNIST_DIR,
        train_size=60_000,
        class_names=FASHION_MNIST_LABELS,
    ),
    "mnist": DatasetInfo(
        "mnist", "mnist", 10, (28, 28, 1), train_size=60_000, class_names=tuple("0123456789")
    ),
    "imagenette": DatasetInfo(
        "imagenette", "imagenette", 10, (None, None, 3), test_split="validation"
    ),
    "imagenet2012": DatasetInfo(
        "imagenet2012",
        "imagenet2012",
        1000,
        (None, None, 3),
        test_split="validation",
        manual=True,
        train_size=1_281_167,
    ),
    "folder": DatasetInfo("folder", None, None, (None, None, 3)),
}
SPLITS = ("train", "val", "train_full", "test")


def dataset_info(name: str) -> DatasetInfo:
    """The :class:`DatasetInfo` of a dataset name (``ValueError`` lists the known ones).

    Example:
        >>> from keras_convnets import data
        >>> data.dataset_info("cifar10").classes
        10
    """
    if name not in DATASETS:
        raise ValueError(f"Unknown dataset {name!r}. Allowed datasets: {', '.join(DATASETS)}")
    return DATASETS[name]


def tfds_builder(name: str, data_dir=None, manual_dir=None):
    """The real ``tensorflow_datasets`` builder of a dataset name, checked to be prepared.

    No download is ever started: a dataset that is not prepared under
    ``data_dir`` raises a ``ValueError`` saying how to prepare it.
    """
    import tensorflow_datasets as tfds

    info = dataset_info(name)
    if info.tfds_name is None:
        raise ValueError(f"Dataset {name!r} is not a TFDS dataset. Received: dataset={name!r}")
    builder = tfds.builder(info.tfds_name, data_dir=data_dir)
    if not _tfds_prepared(builder):
        hint = (
            f" ImageNet needs its archives in a manual_dir: "
            f"tfds.builder('{info.tfds_name}').download_and_prepare("
            f"download_config=tfds.download.DownloadConfig(manual_dir={manual_dir!r}))."
            if info.manual
            else f" Prepare it once with tfds.builder('{info.tfds_name}', "
            f"data_dir={data_dir!r}).download_and_prepare() on a machine with network."
        )
        raise ValueError(
            f"TFDS dataset {info.tfds_name!r} is not prepared in data_dir={data_dir!r} "
            f"(looked in {builder.data_dir!r}).{hint}"
        )
    return builder


def _tfds_prepared(builder) -> bool:
    import tensorflow as tf

    return tf.io.gfile.exists(os.path.join(builder.data_dir, "dataset_info.json"))


@dataclasses.dataclass
class Split:
    """One split of a dataset, unbatched, before preprocessing.

    Exactly one source is set: ``images``/``labels`` (in memory), ``paths``/
    ``labels`` (image files decoded on the fly) or ``tfds`` (a builder and a
    TFDS split string, streamed).
    """

    name: str
    split: str
    classes: int
    num_examples: int
    image_shape: tuple
    images: np.ndarray | None = None
    labels: np.ndarray | None = None
    paths: np.ndarray | None = None
    tfds: tuple | None = None  # (builder, split string)
    class_names: tuple = ()
    skipped: list = dataclasses.field(default_factory=list)  # unreadable files left out
    skipped_folders: tuple = ()  # hidden or imageless sub-folders, not classes

    @property
    def fixed_size(self) -> bool:
        return None not in self.image_shape


def stratified_holdout(labels, fraction: float, seed: int = 0):
    """``(kept, held)`` index arrays: ``round(n * fraction)`` held, in proportion to each class.

    Class ``c`` of ``n_c`` examples gives ``floor(n_c * fraction)`` and the
    remaining examples go to the classes with the largest remainders (ties
    drawn with ``seed``), so the total is that of a plain holdout and every
    class is held in its proportion. The examples are drawn by a generator
    seeded with ``seed``; both index arrays follow one seeded permutation, so
    that their first N examples mix the classes.

    Example:
        >>> import numpy as np
        >>> labels = np.repeat([0, 1, 2], 10)
        >>> kept, held = stratified_holdout(labels, 0.2)
        >>> len(kept), np.bincount(labels[held]).tolist()
        (24, [2, 2, 2])
    """
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    classes, counts = np.unique(labels, return_counts=True)
    exact = counts * float(fraction)
    take = np.floor(exact).astype(int)
    missing = int(round(len(labels) * float(fraction))) - int(take.sum())
    if missing > 0:
        jitter = rng.random(len(classes)) * 1e-9  # seeded tie-break between equal remainders
        take[np.argsort(-(exact - take + jitter), kind="stable")[:missing]] += 1
    held = np.zeros(len(labels), bool)
    for c, n in zip(classes, take):
        held[rng.permutation(np.flatnonzero(labels == c))[:n]] = True
    order = rng.permutation(len(labels))
    return order[~held[order]], order[held[order]]


def take_examples(split: Split, indices, name: str | None = None) -> Split:
    """The examples ``indices`` of an in-memory or file split."""
    indices = np.asarray(list(indices), np.int64)
    name = split.split if name is None else name
    out = dataclasses.replace(split, split=name, num_examples=len(indices))
    for field in ("images", "labels", "paths"):
        value = getattr(split, field)
        if value is not None:
            setattr(out, field, value[indices])
    return out


@dataclasses.dataclass(frozen=True)
class ImageFolder:
    """What a one-sub-folder-per-class image folder holds (:func:`scan_image_folder`)."""

    directory: str
    paths: np.ndarray
    labels: np.ndarray
    class_names: tuple
    skipped_folders: tuple  # names of the hidden or imageless sub-folders, sorted


def _visible(name: str) -> bool:
    # .ipynb_checkpoints/, .DS_Store, macOS's ._photo.jpg: never a class, never an image.
    return not name.startswith(".")


def is_image_name(name: str) -> bool:
    """Whether a file name is an image for every command: visible, of an image extension."""
    return _visible(name) and name.lower().endswith(IMAGE_EXTENSIONS)


def _image_files(folder: str) -> list:
    return sorted(
        os.path.join(folder, name)
        for name in os.listdir(folder)
        if is_image_name(name) and os.path.isfile(os.path.join(folder, name))
    )


def scan_image_folder(directory, *, min_classes: int = 2) -> ImageFolder:
    """The classes and image files of a one-sub-folder-per-class image folder.

    The classes are the visible sub-folders that hold at least one image file
    (by extension, :data:`IMAGE_EXTENSIONS`), sorted by name; hidden
    sub-folders (``.ipynb_checkpoints``) and those without images are left in
    ``skipped_folders``, hidden files (``._photo.jpg``, ``.DS_Store``) are no
    images. A folder of fewer than ``min_classes`` classes raises ``ValueError``.

    Example:
        >>> import os, tempfile
        >>> d = tempfile.mkdtemp()
        >>> for name in ("cat", "dog", ".ipynb_checkpoints", "empty"):
        ...     os.makedirs(os.path.join(d, name))
        >>> for name in ("cat/1.jpg", "dog/1.png", "dog/._1.png"):
        ...     open(os.path.join(d, name), "wb").close()
        >>> f = scan_image_folder(d)
        >>> f.class_names, f.skipped_folders, len(f.paths)
        (('cat', 'dog'), ('.ipynb_checkpoints', 'empty'), 2)
    """
    if not os.path.isdir(directory):
        raise ValueError(
            f"`data_dir` must be an image folder with one sub-folder per class. "
            f"Received: data_dir={os.fspath(directory)!r} (not a directory)"
        )
    directory = os.fspath(directory)
    classes, skipped, files = [], [], []
    for name in sorted(os.listdir(directory)):
        folder = os.path.join(directory, name)
        if not os.path.isdir(folder):
            continue
        images = _image_files(folder) if _visible(name) else []
        if images:
            classes.append(name)
            files.append(images)
        else:
            skipped.append(name)
    note = f" (skipped, hidden or without images: {', '.join(skipped)})" if skipped else ""
    if not classes:
        raise ValueError(
            f"No images ({', '.join(IMAGE_EXTENSIONS)}) in class sub-folders of "
            f"data_dir={directory!r}{note}."
        )
    if len(classes) == 1 and min_classes > 1:
        raise ValueError(
            f"The image folder data_dir={directory!r} holds one class, {classes[0]!r} "
            f"({len(files[0])} image{'s' if len(files[0]) != 1 else ''}){note}: a classifier "
            "needs at least two classes, one sub-folder of images each."
        )
    labels = np.concatenate([np.full(len(f), i, np.int64) for i, f in enumerate(files)])
    return ImageFolder(directory, np.array(sum(files, [])), labels, tuple(classes), tuple(skipped))


def list_image_folder(directory):
    """``(paths, labels, class_names)`` of a one-sub-folder-per-class image folder.

    The rules (which sub-folders are classes, which files images) are those of
    :func:`scan_image_folder`, which also names the sub-folders it skipped.
    """
    folder = scan_image_folder(directory)
    return folder.paths, folder.labels, folder.class_names


def describe_skipped(*splits, shown: int = 3) -> list:
    """The console lines naming what the splits left out: skipped sub-folders, unreadable files.

    One line for the hidden or imageless sub-folders, one for the unreadable
    image files (the first ``shown`` and their count); ``[]`` when nothing was
    left out. Every command that reads an image folder prints them.

    Example:
        >>> s = Split("folder", "train", 2, 0, (None, None, 3), skipped=["a/x.jpg"],
        ...           skipped_folders=(".ipynb_checkpoints", "empty"))
        >>> for line in describe_skipped(s):
        ...     print(line)
        skipped 2 folders that are hidden or hold no images: .ipynb_checkpoints, empty
        skipped 1 unreadable image file (not an image, or corrupt): a/x.jpg
    """
    folders = sorted({name for s in splits for name in s.skipped_folders})
    files = sorted({path for s in splits for path in s.skipped})
    lines = []
    if folders:
        what = (
            "folder that is hidden or holds"
            if len(folders) == 1
            else "folders that are hidden or hold"
        )
        lines.append(f"skipped {len(folders)} {what} no images: {', '.join(folders)}")
    if files:
        what = (
            "file (not an image, or corrupt)"
            if len(files) == 1
            else "files (not images, or corrupt)"
        )
        more = f", ... ({len(files) - shown} more)" if len(files) > shown else ""
        lines.append(
            f"skipped {len(files)} unreadable image {what}: {', '.join(files[:shown])}{more}"
        )
    return lines


def _slice(split: Split, start: int, stop: int, name: str) -> Split:
    out = dataclasses.replace(split, split=name, num_examples=stop - start)
    if split.tfds is not None:  # TFDS slicing syntax, absolute: "train[100:200]"
        builder, spec = split.tfds
        base, _, rest = spec.partition("[")
        offset = int(rest.split(":")[0] or 0) if rest else 0
        out.tfds = (builder, f"{base}[{offset + start}:{offset + stop}]")
    for field in ("images", "labels", "paths"):
        value = getattr(split, field)
        if value is not None:
            setattr(out, field, value[start:stop])
    return out


def load_split(
    name: str,
    split: str = "train",
    *,
    data_dir=None,
    val_fraction: float = 0.1,
    max_examples: int | None = None,
    manual_dir=None,
    verify: bool = True,
    split_seed: int = 0,
) -> Split:
    """A split of a named dataset: ``train``, ``val``, ``train_full`` or ``test``.

    ``val`` is a stratified ``val_fraction`` of the training set drawn with
    ``split_seed`` (5,000 of CIFAR's 50,000 as in He et al.: 500 a class);
    ``train`` is the rest (:func:`stratified_holdout`). ``test`` is the
    official test (or validation) split. Sources, in order: local IDX files
    (MNIST/Fashion-MNIST in ``data_dir`` or their default folder), an image
    folder (``name="folder"``, layouts in :data:`FOLDER_LAYOUTS`), TFDS
    (``data_dir`` is the TFDS data dir; small datasets are decoded into memory;
    a streamed one, too large for memory, holds out its last ``val_fraction``).

    Example:
        >>> from keras_convnets import data
        >>> s = data.load_split("fashion_mnist", "val", max_examples=100)
        >>> s.num_examples, s.images.shape[1:], s.classes
        (100, (28, 28, 1), 10)
    """
    info = dataset_info(name)
    if split not in SPLITS:
        raise ValueError(f"`split` must be one of {', '.join(SPLITS)}. Received: split={split!r}")
    if not 0.0 <= val_fraction < 1.0:
        raise ValueError(f"`val_fraction` must be in [0, 1). Received: val_fraction={val_fraction}")
    base_split = "test" if split == "test" else "train"
    if name == "folder":
        full = _folder_split(data_dir, base_split, val_fraction, split_seed)
    else:
        full = _named_split(info, base_split, data_dir, manual_dir)
    if split in ("train", "val") and base_split == "train":
        full = _train_val(full, split, val_fraction, split_seed)
    full.split = split
    if max_examples is not None and max_examples < full.num_examples:
        full = _slice(full, 0, max_examples, split)
    if verify and full.paths is not None:
        full, full.skipped = verify_images(full)
    return full


def _train_val(full: Split, split: str, val_fraction: float, seed: int) -> Split:
    if full.labels is None:  # streamed TFDS: labels unknown before reading, last fraction
        cut = full.num_examples - int(round(full.num_examples * val_fraction))
        if split == "train":
            return _slice(full, 0, cut, "train")
        return _slice(full, cut, full.num_examples, "val")
    kept, held = stratified_holdout(full.labels, val_fraction, seed)
    return take_examples(full, kept if split == "train" else held, split)


def _folder_split(data_dir, base_split, val_fraction, seed):
    if data_dir is None:
        raise ValueError("`data_dir` is required with dataset='folder'. Received: data_dir=None")
    train_dir = os.path.join(data_dir, "train")
    if os.path.isdir(train_dir):
        if base_split == "train":
            directory = train_dir
        else:
            for cand in ("test", "val", "validation"):
                directory = os.path.join(data_dir, cand)
                if os.path.isdir(directory):
                    break
            else:
                raise ValueError(
                    f"data_dir={os.fspath(data_dir)!r} has train/ but no test/, val/ or "
                    "validation/ folder for evaluation."
                )
        folder = scan_image_folder(directory, min_classes=1 if base_split == "test" else 2)
        names, labels = folder.class_names, folder.labels
        if base_split == "test":  # the classes are train/'s; the test images may lack some
            names = scan_image_folder(train_dir).class_names
            extra = sorted(set(folder.class_names) - set(names))
            if extra:
                raise ValueError(
                    f"The class folders {extra} of {directory!r} are not classes of "
                    f"{train_dir!r} {list(names)}: the test images need the training classes."
                )
            labels = np.array([names.index(n) for n in folder.class_names], np.int64)[labels]
        order = np.random.default_rng(seed).permutation(len(folder.paths))  # classes mixed
        sub = os.path.basename(directory)
        return Split(
            "folder",
            base_split,
            len(names),
            len(folder.paths),
            (None, None, 3),
            paths=folder.paths[order],
            labels=labels[order],
            class_names=names,
            skipped_folders=tuple(os.path.join(sub, name) for name in folder.skipped_folders),
        )
    # One folder: a stratified val_fraction of each class is the test set.
    if val_fraction <= 0 and base_split == "test":
        raise ValueError(
            f"The single image folder data_dir={os.fspath(data_dir)!r} has no train/ and "
            "val|validation|test/ sub-folders, so its test split is a held-out fraction: "
            f"`val_fraction` must be > 0. Received: val_fraction={val_fraction}"
        )
    folder = scan_image_folder(data_dir)
    full = Split(
        "folder",
        "folder_rest",
        len(folder.class_names),
        len(folder.paths),
        (None, None, 3),
        paths=folder.paths,
        labels=folder.labels,
        class_names=folder.class_names,
        skipped_folders=folder.skipped_folders,
    )
    rest, test = stratified_holdout(folder.labels, val_fraction, seed + 1)
    return take_examples(full, test if base_split == "test" else rest, base_split)


def _named_split(info, base_split, data_dir, manual_dir):
    idx_dir = data_dir or info.idx_dir
    if info.name in ("fashion_mnist", "mnist") and idx_dir and _has_idx(idx_dir):
        images, labels = load_idx_dataset(idx_dir, base_split)
        return Split(
            info.name,
            base_split,
            info.classes,
            len(images),
            images.shape[1:],
            images=images,
            labels=labels,
        )
    if data_dir is not None and not os.path.isdir(data_dir):
        raise ValueError(
            f"`data_dir` does not exist. Received: data_dir={os.fspath(data_dir)!r} "
            f"(for {info.name!r}: a TFDS data dir"
            + (
                " or a folder of MNIST-layout IDX files)"
                if info.idx_dir or info.name == "mnist"
                else ")"
            )
        )
    builder = tfds_builder(info.name, data_dir=data_dir, manual_dir=manual_dir)
    tfds_split = info.train_split if base_split == "train" else info.test_split
    n = builder.info.splits[tfds_split].num_examples
    split = Split(
        info.name, base_split, info.classes, n, info.image_shape, tfds=(builder, tfds_split)
    )
    if split.fixed_size and n * int(np.prod(info.image_shape)) <= IN_MEMORY_LIMIT_BYTES:
        return _tfds_to_memory(split)
    return split


def _has_idx(directory):
    return any(
        os.path.exists(os.path.join(directory, f"train-images-idx3-ubyte{ext}"))
        for ext in ("", ".gz")
    )


def _tfds_to_memory(split: Split) -> Split:
    builder, s = split.tfds
    ds = builder.as_dataset(split=s, shuffle_files=False, as_supervised=True)
    images, labels = [], []
    for x, y in ds.batch(4096).as_numpy_iterator():
        images.append(x)
        labels.append(y)
    images = np.concatenate(images) if images else np.zeros((0, *split.image_shape), np.uint8)
    labels = np.concatenate(labels).astype(np.int64) if labels else np.zeros((0,), np.int64)
    return dataclasses.replace(
        split, images=images, labels=labels, tfds=None, num_examples=len(images)
    )


# --- Preprocessing ------------------------------------------------------------------------

PIPELINES = ("cifar", "resnet_imagenet", "inception", "none")
# AlexNet's PCA colour augmentation ("fancy PCA"), ImageNet RGB eigen-decomposition.
_PCA_EIGVAL = (0.2175, 0.0188, 0.0045)
_PCA_EIGVEC = (
    (-0.5675, 0.7192, 0.4009),
    (-0.5808, -0.0045, -0.8140),
    (-0.5836, -0.6948, 0.4203),
)


def verify_images(split: Split, *, parallel: int = 8):
    """Decodes every image file of a split once; returns ``(readable split, skipped paths)``.

    An unreadable or corrupt file (a truncated JPEG, a text file named
    ``.jpg``) must never kill a run: it is dropped here and counted in the
    run summary. A split none of whose files is readable raises ``ValueError``
    saying so. In-memory and TFDS splits are returned unchanged.

    Example:
        >>> from keras_convnets import data
        >>> s, skipped = data.verify_images(data.load_split("fashion_mnist", max_examples=8))
        >>> s.num_examples, skipped
        (8, [])
    """
    import tensorflow as tf

    if split.paths is None:
        return split, []
    paths = tf.constant(split.paths)
    ds = tf.data.Dataset.range(split.num_examples)
    ds = ds.map(
        lambda i: (i, tf.shape(_decode_file(tf.gather(paths, i)))[0]),
        num_parallel_calls=parallel,
        deterministic=True,
    )
    good = np.array([int(i) for i, _ in ds.ignore_errors().as_numpy_iterator()], dtype=np.int64)
    bad = sorted(set(range(split.num_examples)) - set(good.tolist()))
    if split.num_examples and not len(good):
        raise ValueError(
            f"All {split.num_examples} image files of the {split.split!r} split are unreadable "
            f"(not images, or corrupt), e.g. {str(split.paths[0])!r}."
        )
    out = dataclasses.replace(
        split, paths=split.paths[good], labels=split.labels[good], num_examples=len(good)
    )
    return out, [str(split.paths[i]) for i in bad]


def adapt_image(image, input_shape):
    """Channels adapted to the model (grey -> RGB by tiling, RGB -> grey), dtype float32."""
    import tensorflow as tf

    channels = input_shape[-1]
    have = image.shape[-1]
    if have == 1 and channels == 3:
        image = tf.tile(image, [1, 1, 3])
    elif have == 3 and channels == 1:
        image = tf.image.rgb_to_grayscale(image)
    return tf.cast(image, tf.float32)


def _fit_small(image, height, width):
    """Pads (centred) an image smaller than the model input, else resizes to it."""
    import tensorflow as tf

    shape = tf.shape(image)
    h, w = shape[0], shape[1]

    def pad():
        return tf.image.pad_to_bounding_box(
            image, (height - h) // 2, (width - w) // 2, height, width
        )

    def resize():
        return tf.image.resize(image, (height, width))

    return tf.cond(tf.logical_and(h <= height, w <= width), pad, resize)


def make_preprocess(pipeline, *, training, input_shape, mode=None, mean_image=None, cutout=0.0):
    """``fn(image uint8 [H,W,C], label, seed=None) -> (float32 image, label)`` for a pipeline.

    Training randomness is stateless: ``seed`` (an int32 pair; the training
    pipeline passes ``(run seed * 1000 + epoch, example index)``) fixes each
    example's augmentation, so a resumed or multi-worker run sees exactly the
    images an uninterrupted single-process run sees. Without ``seed`` a random
    one is drawn.

    * ``cifar`` (He et al. §4.2): a smaller image (28x28 Fashion-MNIST) is
      zero-padded to the input size; training adds a 4-pixel zero pad, a
      random crop and a horizontal flip; the per-pixel mean image
      (:func:`mean_image` of the training set) is subtracted.
    * ``resnet_imagenet`` (He et al. §3.4): training resizes the shorter side
      to a random length in [256, 480] (scaled with the input size), takes a
      random crop and flip and adds AlexNet PCA colour noise; evaluation
      resizes the shorter side to 256/224 of the input and takes the centre.
      Then the registry's preprocessing ``mode`` (``caffe``: mean subtraction).
    * ``inception`` (Szegedy et al.): training samples a crop of 8%-100% of the
      area with aspect ratio in [3/4, 4/3], resizes it, flips, and distorts
      brightness, saturation, hue and contrast; evaluation takes the central
      87.5% and resizes. Then ``mode`` (``tf``: scaled to [-1, 1]).
    * ``none``: only channel adaptation and resize, values in [0, 255].

    ``cutout`` (training only; DeVries & Taylor 2017): after the pipeline, a
    square of ``cutout`` x the shorter side, centred anywhere in the image
    (clipped at its borders), is set to 0 - the mean for ``cifar``.

    Example:
        >>> import numpy as np
        >>> from keras_convnets import data
        >>> fn = data.make_preprocess("cifar", training=True, input_shape=(32, 32, 3),
        ...                           mean_image=np.zeros((32, 32, 3), "float32"))
        >>> x, y = fn(np.zeros((28, 28, 1), "uint8"), 3)
        >>> tuple(x.shape), int(y)
        ((32, 32, 3), 3)
    """
    if pipeline not in PIPELINES:
        raise ValueError(
            f"`pipeline` must be one of {', '.join(PIPELINES)}. Received: pipeline={pipeline!r}"
        )
    if pipeline == "cifar" and mean_image is None:
        raise ValueError("The 'cifar' pipeline subtracts the per-pixel mean: pass `mean_image`.")
    mean = None
    if mean_image is not None:
        import tensorflow as tf

        mean = tf.constant(np.asarray(mean_image, np.float32))
    if not 0.0 <= cutout < 1.0:
        raise ValueError(f"`cutout` must be in [0, 1). Received: cutout={cutout!r}")
    transform = _Transform(tuple(input_shape), bool(training), mode, mean)
    fn = functools.partial(_PIPELINE_FNS[pipeline], transform)
    if training and cutout:
        return functools.partial(_with_cutout, fn, transform, cutout)
    return fn


def _with_cutout(fn, t: _Transform, fraction, image, label, seed=None):
    """``fn`` then a zeroed square of ``fraction`` x the shorter side (seeded like ``fn``)."""
    import tensorflow as tf

    s_fn, s_cut = _seeds(seed, 2)
    image, label = fn(image, label, s_fn)
    side = max(1, int(round(fraction * min(t.height, t.width))))
    unit = tf.random.stateless_uniform((2,), s_cut)
    centre = tf.cast(unit * [t.height, t.width], tf.int32)
    rows = tf.range(t.height)[:, None]
    cols = tf.range(t.width)[None, :]
    top, left = centre[0] - side // 2, centre[1] - side // 2
    inside = (rows >= top) & (rows < top + side) & (cols >= left) & (cols < left + side)
    keep = tf.cast(~inside, image.dtype)[:, :, None]
    return image * keep, label


@dataclasses.dataclass(frozen=True)
class _Transform:
    """What a pipeline's per-example function needs: the input, the phase, the normalisation."""

    input_shape: tuple
    training: bool
    mode: str | None
    mean: object  # tf.Tensor of the per-pixel mean image, or None

    @property
    def height(self) -> int:
        return int(self.input_shape[0])

    @property
    def width(self) -> int:
        return int(self.input_shape[1])

    @property
    def shape(self) -> tuple:
        return (self.height, self.width, self.input_shape[-1])


def _finish(t: _Transform, image):
    import tensorflow as tf

    image = tf.reshape(image, t.shape)
    if t.mode is not None:
        from keras_convnets.data import preprocessing

        image = preprocessing.preprocess_input(image[None], mode=t.mode)[0]
    return image


def _seeds(seed, n):
    import tensorflow as tf

    if seed is None:
        seed = tf.random.uniform((2,), maxval=2**31 - 1, dtype=tf.int32)
    return tf.unstack(tf.random.experimental.stateless_split(tf.cast(seed, tf.int64), n))


def _cifar(t: _Transform, image, label, seed=None):
    import tensorflow as tf

    image = _fit_small(adapt_image(image, t.input_shape), t.height, t.width)
    if t.training:
        s1, s2 = _seeds(seed, 2)
        image = tf.image.pad_to_bounding_box(image, 4, 4, t.height + 8, t.width + 8)
        image = tf.image.stateless_random_crop(image, t.shape, s1)
        image = tf.image.stateless_random_flip_left_right(image, s2)
    return tf.reshape(image - t.mean, t.shape), label


def _resnet_imagenet(t: _Transform, image, label, seed=None):
    import tensorflow as tf

    image = adapt_image(image, t.input_shape)
    if t.training:
        s1, s2, s3, s4 = _seeds(seed, 4)
        lo, hi = 256 * t.height / 224, 480 * t.height / 224
        side = tf.floor(tf.random.stateless_uniform((), s1, lo, hi + 1))
        image = _resize_shorter(image, side)
        image = tf.image.stateless_random_crop(image, t.shape, s2)
        image = tf.image.stateless_random_flip_left_right(image, s3)
        if t.input_shape[-1] == 3:
            alpha = tf.random.stateless_normal((3,), s4, stddev=0.1)
            rgb = tf.linalg.matvec(tf.constant(_PCA_EIGVEC), alpha * _PCA_EIGVAL)
            image = tf.clip_by_value(image + 255.0 * rgb, 0.0, 255.0)
    else:
        image = _resize_shorter(image, tf.constant(256 * t.height / 224))
        image = _center_crop(image, t.height, t.width)
    return _finish(t, image), label


def _inception(t: _Transform, image, label, seed=None):
    import tensorflow as tf

    image = adapt_image(image, t.input_shape)
    if t.training:
        s1, s2, s3, s4, s5, s6 = _seeds(seed, 6)
        begin, size, _ = tf.image.stateless_sample_distorted_bounding_box(
            tf.shape(image),
            bounding_boxes=tf.constant([[[0.0, 0.0, 1.0, 1.0]]]),
            min_object_covered=0.08,
            aspect_ratio_range=(3 / 4, 4 / 3),
            area_range=(0.08, 1.0),
            max_attempts=10,
            use_image_if_no_bounding_boxes=True,
            seed=s1,
        )
        image = tf.slice(image, begin, size)
        image = tf.image.resize(image, (t.height, t.width))
        image = tf.image.stateless_random_flip_left_right(image, s2)
        if t.input_shape[-1] == 3:
            x = image / 255.0
            x = tf.image.stateless_random_brightness(x, 32 / 255, s3)
            x = tf.image.stateless_random_saturation(x, 0.5, 1.5, s4)
            x = tf.image.stateless_random_hue(x, 0.2, s5)
            x = tf.image.stateless_random_contrast(x, 0.5, 1.5, s6)
            image = tf.clip_by_value(x, 0.0, 1.0) * 255.0
    else:
        image = tf.image.central_crop(image, 0.875)
        image = tf.image.resize(image, (t.height, t.width))
    return _finish(t, image), label


def _none(t: _Transform, image, label, seed=None):
    import tensorflow as tf

    image = adapt_image(image, t.input_shape)
    image = tf.image.resize(image, (t.height, t.width))
    return _finish(t, image), label


_PIPELINE_FNS = {
    "cifar": _cifar,
    "resnet_imagenet": _resnet_imagenet,
    "inception": _inception,
    "none": _none,
}


def _resize_shorter(image, side):
    import tensorflow as tf

    shape = tf.cast(tf.shape(image)[:2], tf.float32)
    scale = tf.cast(side, tf.float32) / tf.reduce_min(shape)
    new = tf.cast(tf.math.ceil(shape * scale), tf.int32)
    return tf.image.resize(image, new)


def _center_crop(image, height, width):
    import tensorflow as tf

    shape = tf.shape(image)
    top = (shape[0] - height) // 2
    left = (shape[1] - width) // 2
    return tf.slice(image, [top, left, 0], [height, width, -1])


def mean_image(split: Split, input_shape) -> np.ndarray:
    """The per-pixel mean (float32 ``input_shape``) of a split, adapted to the model input.

    As He et al. subtract it on CIFAR: computed on the training images only.

    Example:
        >>> from keras_convnets import data
        >>> data.mean_image(data.load_split("fashion_mnist", max_examples=64), (32, 32, 3)).shape
        (32, 32, 3)
    """
    import tensorflow as tf

    height, width = int(input_shape[0]), int(input_shape[1])
    total = np.zeros(tuple(input_shape), np.float64)
    count = 0

    def adapt(image, label):
        return _fit_small(adapt_image(image, input_shape), height, width), label

    if split.images is not None:
        ds = tf.data.Dataset.from_tensor_slices(split.images)
        ds = ds.map(lambda x: adapt(x, 0)[0], num_parallel_calls=tf.data.AUTOTUNE)
    else:
        ds = _source(split, None).map(lambda x, y, i: adapt(x, y)[0], num_parallel_calls=4)
        ds = ds.ignore_errors()
    for batch in ds.batch(1024).as_numpy_iterator():
        total += batch.sum(axis=0)
        count += len(batch)
    if count == 0:
        raise ValueError(f"Split {split.name}/{split.split} has no readable images.")
    return (total / count).astype(np.float32)


def _decode_file(path):
    import tensorflow as tf

    image = tf.io.decode_image(tf.io.read_file(path), channels=3, expand_animations=False)
    image.set_shape((None, None, 3))
    return image


def _source(split: Split, order):
    """Unbatched ``(uint8 image, label, index)`` in the given order, decoding files in parallel."""
    import tensorflow as tf

    autotune = tf.data.AUTOTUNE
    if split.tfds is not None:
        builder, s = split.tfds
        ds = builder.as_dataset(split=s, shuffle_files=False, as_supervised=True)
        return ds.enumerate().map(lambda i, xy: (xy[0], xy[1], i))
    if order is None:
        order = np.arange(split.num_examples)
    indices = tf.data.Dataset.from_tensor_slices(np.asarray(order, np.int64))
    labels = tf.constant(split.labels)
    if split.images is not None:
        images = tf.constant(split.images)
        return indices.map(lambda i: (tf.gather(images, i), tf.gather(labels, i), i))
    paths = tf.constant(split.paths)
    return indices.map(
        lambda i: (_decode_file(tf.gather(paths, i)), tf.gather(labels, i), i),
        num_parallel_calls=autotune,
        deterministic=True,
    )


def build_dataset(
    split: Split,
    preprocess,
    *,
    batch_size: int,
    training: bool,
    seed: int = 0,
    epoch: int = 0,
    num_shards: int = 1,
    shard_index: int = 0,
    skip_examples: int = 0,
    take_batches: int | None = None,
    pad_to_batches: int | None = None,
):
    """One epoch of a split as a batched ``tf.data`` pipeline.

    Training order is a permutation drawn from ``(seed, epoch)``, identical on
    every worker, then sharded ``shard_index::num_shards``: the union of the
    workers' batch ``k`` is exactly batch ``k`` of a single process with the
    global batch, so multi-worker runs reproduce single-process ones, and a
    resumed run skips ``skip_examples`` (of this shard) without decoding them.
    Augmentation is seeded per example by ``(seed, epoch, index)``. Decoding
    and preprocessing run in parallel; batches are prefetched. Files that
    fail to decode here (changed since :func:`verify_images`) are skipped.

    Evaluation (``training=False``) keeps the stored order and yields
    ``(x, y, weight)``; with ``pad_to_batches`` it is padded with weight-0
    copies so that every worker runs the same number of steps.

    Example:
        >>> import numpy as np
        >>> from keras_convnets import data
        >>> s = data.load_split("fashion_mnist", "val", max_examples=64)
        >>> fn = data.make_preprocess("none", training=False, input_shape=(28, 28, 1))
        >>> x, y = next(iter(data.build_dataset(s, fn, batch_size=32, training=True)))
        >>> tuple(x.shape), tuple(y.shape)
        ((32, 28, 28, 1), (32,))
    """
    import tensorflow as tf

    if batch_size < 1:
        raise ValueError(f"`batch_size` must be >= 1. Received: batch_size={batch_size}")
    autotune = tf.data.AUTOTUNE
    if split.tfds is not None:
        ds = _tfds_stream(split, training, seed, epoch, num_shards, shard_index)
    else:
        order = np.arange(split.num_examples)
        if training:
            order = np.random.default_rng([seed, epoch]).permutation(split.num_examples)
        order = order[shard_index::num_shards]
        ds = _source(split, order)
    if skip_examples:
        ds = ds.skip(skip_examples)
    if split.paths is not None:
        ds = ds.ignore_errors()
    if training:
        base = tf.constant(seed * 1000 + epoch, tf.int64)

        def augment(x, y, i):
            return preprocess(x, y, tf.stack([base, i]))

        ds = ds.map(augment, num_parallel_calls=autotune, deterministic=True)
    else:
        ds = ds.map(
            lambda x, y, i: preprocess(x, y), num_parallel_calls=autotune, deterministic=True
        )
    if not training:
        ds = ds.map(lambda x, y: (x, y, tf.constant(1.0)))
        if pad_to_batches is not None:
            pad = ds.take(1).map(lambda x, y, w: (x, y, tf.constant(0.0))).repeat()
            ds = ds.concatenate(pad).take(pad_to_batches * batch_size)
    ds = ds.batch(batch_size, drop_remainder=training)
    if take_batches is not None:
        ds = ds.take(take_batches)
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.OFF
    return ds.with_options(options).prefetch(autotune)


def _tfds_stream(split, training, seed, epoch, num_shards, shard_index):
    import tensorflow_datasets as tfds

    builder, s = split.tfds
    read_config = tfds.ReadConfig(shuffle_seed=seed * 1000 + epoch, try_autocache=False)
    ds = builder.as_dataset(
        split=s, shuffle_files=training, as_supervised=True, read_config=read_config
    )
    # Indices before sharding, so that they (and the augmentation seeds) match a
    # single-process run.
    ds = ds.enumerate().map(lambda i, xy: (xy[0], xy[1], i))
    if training:
        ds = ds.shuffle(10_000, seed=seed * 1000 + epoch, reshuffle_each_iteration=False)
    return ds.shard(num_shards, shard_index)


def split_arrays(split: Split, count: int | None = None, *, size=None):
    """``(images uint8 [N, H, W, C], labels int64 [N])``: the first ``count`` of a split.

    Files are decoded exactly as the training pipeline decodes them (3
    channels). Images of one size are stacked as stored. Images of different
    sizes (a folder of photos) need ``size`` ``(height, width)``: each is
    brought to it by the rule training brings a folder's images to the model
    input with (:func:`_fit_small`: a smaller image zero-padded, centred; a
    larger one resized), then rounded to uint8.

    Example:
        >>> from keras_convnets import data
        >>> x, y = data.split_arrays(data.load_split("fashion_mnist", "test", max_examples=8), 4)
        >>> x.shape, x.dtype.name, y.shape
        ((4, 28, 28, 1), 'uint8', (4,))
    """
    if size is not None:
        size = _check_size(size)
    if split.images is not None:
        return split.images[:count], split.labels[:count]
    ds = _source(split, None).map(lambda x, y, i: (x, y))
    if split.paths is not None:
        ds = ds.ignore_errors()
    if count is not None:
        ds = ds.take(count)
    images, labels = [], []
    for x, y in ds.as_numpy_iterator():
        images.append(x)
        labels.append(y)
    if not images:
        raise ValueError(f"Split {split.name}/{split.split} has no readable images.")
    shapes = sorted({x.shape for x in images})
    if len(shapes) > 1:
        if size is None:
            raise ValueError(
                f"The images of {split.name}/{split.split} have different sizes {shapes[:3]}; "
                "as one array they need one: pass `size` (height, width), to which each image "
                "is padded or resized as training does. Received: size=None"
            )
        images = [_fit_uint8(x, size) for x in images]
    return np.stack(images).astype(np.uint8), np.asarray(labels, np.int64)


def _check_size(size) -> tuple:
    if (
        not isinstance(size, (tuple, list))
        or len(size) != 2
        or any(isinstance(d, bool) or not isinstance(d, (int, np.integer)) or d < 1 for d in size)
    ):
        raise ValueError(
            f"`size` must be (height, width), two integers >= 1. Received: size={size!r}"
        )
    return int(size[0]), int(size[1])


def _fit_uint8(image, size) -> np.ndarray:
    import tensorflow as tf

    fitted = _fit_small(tf.cast(image, tf.float32), *size)
    return np.clip(np.round(np.asarray(fitted)), 0, 255).astype(np.uint8)

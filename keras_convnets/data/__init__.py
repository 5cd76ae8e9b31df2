"""Datasets: IDX files (:mod:`.idx`) and the catalogue, splits and pipelines (:mod:`.datasets`).

Example:
    >>> from keras_convnets import data
    >>> data.dataset_info("fashion_mnist").class_names[:2]
    ('T-shirt/top', 'Trouser')
"""

from keras_convnets.data.datasets import (
    CIFAR10_LABELS,
    DATASETS,
    FOLDER_LAYOUTS,
    IMAGE_EXTENSIONS,
    IN_MEMORY_LIMIT_BYTES,
    PIPELINES,
    SPLITS,
    DatasetInfo,
    ImageFolder,
    Split,
    adapt_image,
    build_dataset,
    dataset_info,
    describe_skipped,
    list_image_folder,
    load_split,
    make_preprocess,
    mean_image,
    scan_image_folder,
    split_arrays,
    stratified_holdout,
    take_examples,
    tfds_builder,
    verify_images,
)
from keras_convnets.data.idx import (
    FASHION_MNIST_DIR,
    FASHION_MNIST_LABELS,
    load_idx_dataset,
    read_idx,
)

__all__ = [
    "CIFAR10_LABELS",
    "DATASETS",
    "FASHION_MNIST_DIR",
    "FASHION_MNIST_LABELS",
    "FOLDER_LAYOUTS",
    "IMAGE_EXTENSIONS",
    "IN_MEMORY_LIMIT_BYTES",
    "PIPELINES",
    "SPLITS",
    "DatasetInfo",
    "ImageFolder",
    "Split",
    "adapt_image",
    "build_dataset",
    "dataset_info",
    "describe_skipped",
    "list_image_folder",
    "load_idx_dataset",
    "load_split",
    "make_preprocess",
    "mean_image",
    "read_idx",
    "scan_image_folder",
    "split_arrays",
    "stratified_holdout",
    "take_examples",
    "tfds_builder",
    "verify_images",
]

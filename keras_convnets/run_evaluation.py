"""Evaluation of a training run, from Python: what ``keras-convnets evaluate --run=DIR`` does.

:func:`evaluate_run` reads the run directory (its model, classes and
evaluation transform), takes the run's own test split unless other data is
named, and returns the report the command prints and writes with
``--output``, with the same numbers.

Example:
    >>> import keras_convnets
    >>> report = keras_convnets.evaluate_run("runs/photos")  # doctest: +SKIP
    >>> report["top1_accuracy"], report["run_test_accuracy"]  # doctest: +SKIP
    (0.9, 0.9)
"""

from __future__ import annotations

import os
import time

SPLITS = ("test", "train", "val")


def image_folder_split(path):
    """The images under ``path/<class>/<image>`` as one split, skipped files listed.

    Sub-folders and files are skipped as training skips them
    (:func:`keras_convnets.data.scan_image_folder`); unreadable images are in
    the split's ``skipped``, hidden or empty folders in ``skipped_folders``.
    """
    from keras_convnets import data

    folder = data.scan_image_folder(path)
    split = data.Split(
        "folder", "all", len(folder.class_names), len(folder.paths), (None, None, 3),
        paths=folder.paths, labels=folder.labels, class_names=folder.class_names,
        skipped_folders=folder.skipped_folders,
    )  # fmt: skip
    split, split.skipped = data.verify_images(split)
    return split


def skipped_report(split) -> dict:
    """The report's account of the files a split left out."""
    return {"skipped_images": len(split.skipped), "skipped_files": list(split.skipped[:50])}


def check_top_k(top_k, classes) -> tuple:
    """``top_k`` (default ``(1, min(5, classes))``) as distinct ints in ``[1, classes]``."""
    ks = tuple(top_k) if top_k else (1, min(5, classes))
    if not all(isinstance(k, int) and not isinstance(k, bool) for k in ks):
        raise ValueError(f"`top_k` takes integers. Received: top_k={ks!r}")
    ks = tuple(dict.fromkeys(ks))
    if min(ks) < 1 or max(ks) > classes:
        raise ValueError(
            f"`top_k` must be in [1, {classes}] (the model's classes). Received: top_k={ks}"
        )
    return ks


def run_split(run, *, split="test", dataset=None, data_dir=None, max_images=None, say=print):
    """The images to evaluate: the run's own ``split`` unless ``dataset``/``data_dir`` name others.

    ``dataset`` may be an image folder. Its classes must be the run's (count
    and names). Skipped files are said with ``say``.
    """
    from keras_convnets import data

    if split not in SPLITS:
        raise ValueError(f"`split` must be one of {', '.join(SPLITS)}. Received: split={split!r}")
    if dataset is None and data_dir is None:
        chosen = run.load_split(split)
    elif dataset is not None and os.path.isdir(dataset):
        chosen = image_folder_split(dataset)
    else:
        chosen = data.load_split(
            dataset or run.dataset, split, data_dir=data_dir, val_fraction=run.val_fraction,
            split_seed=run.split_seed,
        )  # fmt: skip
    if chosen.classes != run.classes or (
        chosen.class_names and list(chosen.class_names) != list(run.class_names)
    ):
        raise ValueError(
            f"The data has {chosen.classes} classes {list(chosen.class_names) or ''}, the run "
            f"{run.directory} was trained on {run.classes} {run.class_names}: they must agree."
        )
    for line in data.describe_skipped(chosen):
        say(line)
    if max_images:
        chosen = data.take_examples(chosen, range(min(max_images, chosen.num_examples)))
    return chosen


def evaluate_run(
    run_dir,
    *,
    split: str = "test",
    dataset: str | None = None,
    data_dir: str | None = None,
    max_images: int | None = None,
    top_k=None,
    batch_size: int = 64,
    fold: bool = False,
    say=print,
) -> dict:
    """Evaluates the model of a training run on its test split (or ``dataset``) as trained.

    The run's evaluation transform (pipeline, normalisation, mean image,
    input size) is applied; ``fold=True`` evaluates the model with its
    BatchNorm folded. Returns the report of ``keras-convnets evaluate --run``:
    ``top1_accuracy`` (and the other ``top{k}_accuracy``), ``images``,
    ``transform``, skipped files, and ``run_test_accuracy`` (what the run
    itself reported) when the images are the run's own test split. ``say``
    receives the lines the command prints (the transform, skipped files).
    """
    from keras_convnets import data
    from keras_convnets import runs as run_lib
    from keras_convnets.analysis import evaluation

    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"`batch_size` must be an integer >= 1. Received: {batch_size!r}")
    run = run_lib.load_run(run_dir)
    ks = check_top_k(top_k, run.classes)
    chosen = run_split(run, split=split, dataset=dataset, data_dir=data_dir,
                       max_images=max_images, say=say)  # fmt: skip
    model = run.load_model()
    if fold:
        from keras_convnets.models.inference import optimize_for_inference

        model = optimize_for_inference(model)
    transform = run.eval_transform()
    say(
        f"transform (from {os.path.join(run.directory, run_lib.CARD)}): pipeline "
        f"{transform['pipeline']}, normalisation {transform['preprocessing_mode']}, mean image "
        f"{transform['mean_image']}, input {tuple(transform['input_shape'])}"
    )
    batches = data.build_dataset(chosen, run.preprocess(), batch_size=batch_size, training=False)
    start = time.time()
    result = evaluation.evaluate(model, batches, crops="center", top_k=ks, batch_size=batch_size)
    report = dict(result, run=run.directory, transform=transform, top_k=list(ks))
    report.update(dataset=chosen.name, split=chosen.split, seconds=round(time.time() - start, 3))
    report.update(skipped_report(chosen))
    own = dataset is None and data_dir is None and not max_images and split == "test"
    reported = run.metrics.get("test_accuracy") if own else None
    if reported is not None:
        report["run_test_accuracy"] = reported
    return report

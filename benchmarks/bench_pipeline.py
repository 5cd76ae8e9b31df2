"""Images/s the tf.data training pipeline delivers per recipe vs what the model consumes.

For each recipe's pipeline (:func:`keras_convnets.data.make_preprocess` +
:func:`keras_convnets.data.build_dataset`, ``training=True``: augmentation on)
the batches are pulled with nothing else running and timed after the first
(which fills the prefetch buffer); then the recipe's model (ours) takes
``train_on_batch`` steps on one such batch, timed alone. If the pipeline
delivers less than the model consumes, training is input-bound.

Data: the local Fashion-MNIST IDX files (28x28 grey, held in memory), resized
and made 3-channel by the pipeline; JPEG decoding, which ImageNet training
pays, is not part of this figure. Both numbers use the same 2 cores; in a real
run they share them, so the sustainable rate is at most ``1 / (1/p + 1/m)``
when neither overlaps the other, shown as the last column.

Example::

    python -m benchmarks.bench_pipeline --quick
"""

from __future__ import annotations

import argparse
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

# recipe: (pipeline, model, input shape, batch for the model step)
RECIPES = {
    "cifar10": ("cifar", "resnet20", (32, 32, 3), 128),
    "resnet_imagenet": ("resnet_imagenet", "resnet50", (224, 224, 3), 16),
    "inception_v3": ("inception", "inception_v3", (299, 299, 3), 16),
}


def pipeline_rate(pipeline, input_shape, *, batch, batches, examples, model_name):
    """Images/s the training pipeline yields over ``batches`` batches after the first."""
    from keras_convnets import data
    from keras_convnets.models import registry

    split = data.load_split("fashion_mnist", "train", max_examples=examples)
    mean = data.mean_image(split, input_shape) if pipeline == "cifar" else None
    mode = None if pipeline == "cifar" else registry.model_info(model_name).preprocessing
    fn = data.make_preprocess(
        pipeline, training=True, input_shape=input_shape, mode=mode, mean_image=mean
    )
    ds = data.build_dataset(split, fn, batch_size=batch, training=True)
    it = iter(ds)
    next(it)  # builds the pipeline
    # The total over many batches, not a per-batch median: the first few come
    # out of the prefetch buffer at once and would overstate the rate.
    start = time.perf_counter()
    for _ in range(batches):
        next(it)
    return batch * batches / (time.perf_counter() - start)


def model_rate(model_name, input_shape, *, batch, repeats):
    """Images/s of ``train_on_batch`` (SGD) on our ``model_name``."""
    import keras
    import numpy as np

    from benchmarks._util import median_rate
    from keras_convnets.models import registry

    overrides = {"input_shape": input_shape}
    if model_name == "inception_v3":
        overrides["aux_logits"] = False  # one output: the same step as the others
    model = registry.get_model(model_name, **overrides)
    model.compile(
        optimizer=keras.optimizers.SGD(0.01, momentum=0.9), loss="sparse_categorical_crossentropy"
    )
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, (batch, *input_shape)).astype("float32")
    y = rng.integers(0, model.output_shape[-1], batch)
    model.train_on_batch(x, y)
    return median_rate(lambda: model.train_on_batch(x, y), items=batch, repeats=repeats)["median"]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--recipes", nargs="+", choices=sorted(RECIPES), default=list(RECIPES))
    parser.add_argument("--batches", type=int, default=30, help="timed pipeline batches")
    parser.add_argument("--examples", type=int, default=8192, help="Fashion-MNIST images used")
    parser.add_argument("--repeats", type=int, default=3, help="timed model steps")
    parser.add_argument("--image-size", type=int, default=None, help="default: the recipe's")
    parser.add_argument("--batch-size", type=int, default=None, help="default: per recipe")
    parser.add_argument("--out", default=None)
    parser.add_argument("--quick", action="store_true", help="tiny run for the smoke test")
    args = parser.parse_args(argv)
    if args.quick:
        args.recipes, args.batches, args.examples, args.repeats = ["cifar10"], 4, 64, 2
        args.batch_size = 8
    for name in ("batches", "examples", "repeats"):
        if getattr(args, name) < 1:
            raise ValueError(f"`--{name}` must be >= 1. Received: {getattr(args, name)}")

    from benchmarks._util import format_table, load_average, write_atomic, write_json

    load_before = load_average()
    rows = []
    for recipe in args.recipes:
        pipeline, model_name, shape, batch = RECIPES[recipe]
        if args.image_size:
            shape = (args.image_size, args.image_size, 3)
        batch = args.batch_size or batch
        p = pipeline_rate(
            pipeline,
            shape,
            batch=batch,
            batches=args.batches,
            examples=args.examples,
            model_name=model_name,
        )
        m = model_rate(model_name, shape, batch=batch, repeats=args.repeats)
        rows.append(
            [recipe, pipeline, model_name, shape[0], batch, p, m, p / m, 1 / (1 / p + 1 / m)]
        )
        print(rows[-1], flush=True)
    headers = [
        "recipe",
        "pipeline",
        "model",
        "input",
        "batch",
        "pipeline img/s",
        "model step img/s",
        "pipeline/model",
        "both on the same cores",
    ]
    report = "\n".join(
        [
            "## tf.data training pipeline vs model step (Fashion-MNIST in memory, augmentation on)",
            format_table(headers, rows),
            f"\nload average before {load_before}, after {load_average()}",
        ]
    )
    print(report)
    if args.out:
        write_atomic(os.path.join(args.out, "pipeline.md"), report + "\n")
        write_json(
            os.path.join(args.out, "pipeline.json"),
            {"args": vars(args), "rows": rows, "load_before": load_before},
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())

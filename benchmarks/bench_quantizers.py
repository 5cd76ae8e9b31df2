"""TensorFlow's converter vs the AI Edge Quantizer on a trained ResNet-20 or -50, raw-pixel files.

Trains ResNet-20 (32x32x3, option A, preprocessing ``tf``; or ``--model resnet50``,
64x64x3 by default) for ``--epochs`` on
``--train`` Fashion-MNIST training images (the local IDX files, else the
shipped sample), then exports it with :func:`keras_convnets.deploy.export_model`
as raw-pixel TFLite files (uint8 28x28 RGB in, the transform in the graph):
float32, and int8 / dynamic with ``quantizer=tf`` and each ``ai_edge`` recipe
that fits a conv net. Each file's parity report runs on ``--eval`` test images
(default all 10,000): accuracy against the float file, size, latency at 1 and 2
threads (XNNPACK, median of ``--runs``).

Example::

    python -m benchmarks.bench_quantizers --out runs/bench            # ~10 min on 2 cores
    python -m benchmarks.bench_quantizers --model resnet50 --train 5000 --epochs 1 \
        --eval 2000 --out runs/bench                                  # ResNet-50, 64x64
    python -m benchmarks.bench_quantizers --quick --out /tmp/bq       # smoke test
"""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

EXPORTS = (
    ("float32", dict(quantize="none")),
    ("int8, tf", dict(quantize="int8")),
    ("int8, ai_edge static_wi8_ai8", dict(quantize="int8", quantizer="ai_edge")),
    (
        "int8, ai_edge static_wi8_ai16",
        dict(quantize="int8", quantizer="ai_edge", recipe="static_wi8_ai16"),
    ),
    ("dynamic, tf", dict(quantize="dynamic")),
    ("dynamic, ai_edge dynamic_wi8_afp32", dict(quantize="dynamic", quantizer="ai_edge")),
    (
        "weight-only, ai_edge weight_only_wi8_afp32",
        dict(quantize="dynamic", quantizer="ai_edge", recipe="weight_only_wi8_afp32"),
    ),
)


MODELS = ("resnet20", "resnet50")


def train(count, epochs, seed=0, *, name="resnet20", size=32):
    """``name`` (``size`` x ``size`` x 3, 10 classes) trained on ``count`` training images;
    returns ``(model, test split)``."""
    import keras

    from keras_convnets import data
    from keras_convnets.data import preprocessing
    from keras_convnets.models import registry

    keras.utils.set_random_seed(seed)
    split = data.load_split("fashion_mnist", "train", max_examples=count)
    x = preprocessing.prepare_numpy(split.images, size=(size, size), channels=3, mode="tf")
    model = registry.get_model(name, input_shape=(size, size, 3), classes=10)
    model.compile(keras.optimizers.Adam(2e-3 if name == "resnet20" else 1e-3),
                  "sparse_categorical_crossentropy")  # fmt: skip
    model.fit(x, split.labels, batch_size=64, epochs=epochs, verbose=0)
    return model, data.load_split("fashion_mnist", "test")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--train", type=int, default=20000, help="training images")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--eval", type=int, default=10000, help="test images (all: 10000)")
    parser.add_argument("--representative", type=int, default=200)
    parser.add_argument("--runs", type=int, default=50, help="timed invocations (>= 20)")
    parser.add_argument("--out", default=os.path.join("runs", "bench"))
    parser.add_argument("--model", choices=MODELS, default="resnet20")
    parser.add_argument("--size", type=int, default=None, help="input side (default 32; 64)")
    parser.add_argument("--quick", action="store_true", help="tiny run for the smoke test")
    args = parser.parse_args(argv)
    if args.size is None:
        args.size = 32 if args.model == "resnet20" else 64
    if args.quick:
        args.train, args.epochs, args.eval, args.representative, args.runs = 256, 1, 64, 16, 20

    import time

    import numpy as np

    from benchmarks._util import format_table, load_average, write_atomic, write_json
    from keras_convnets.deploy import export_model

    folder = os.path.join(args.out, "quantizers")
    os.makedirs(folder, exist_ok=True)
    load_before = load_average()
    start = time.time()
    model, test = train(args.train, args.epochs, name=args.model, size=args.size)
    order = np.random.default_rng(0).permutation(len(test.images))[: args.eval]
    images, labels = test.images[order], test.labels[order]
    train_s = time.time() - start
    rows, records = [], []
    for label, options in EXPORTS:
        stem = label.replace(", ", "_").replace(" ", "_")
        report = export_model(
            model, os.path.join(folder, f"{args.model}_{stem}.tflite"), arch=args.model,
            preprocessing_mode="tf", input="raw", eval_images=images, eval_labels=labels,
            dataset="fashion_mnist", representative_count=args.representative,
            latency_runs=args.runs, verbose=False, **options,
        )  # fmt: skip
        records.append({"export": label, **report})
        rows.append(
            [label, report["size_bytes"] / 1024, report["export_accuracy"],
             report["top1_agreement"], report["max_abs_diff_prob"],
             report["latency_ms"]["1"], report["latency_ms"]["2"]]
        )  # fmt: skip
        print(rows[-1], flush=True)
    float_acc = records[0]["export_accuracy"]
    for row in rows:
        row.insert(3, row[2] - float_acc)
    headers = [
        "export",
        "KB",
        "accuracy %",
        "vs float",
        "top-1 agr. %",
        "max|dp|",
        "ms 1t",
        "ms 2t",
    ]
    report = "\n".join(
        [
            f"## {args.model} ({args.size}x{args.size}), {args.train} training images x "
            f"{args.epochs} epochs ({train_s:.0f} s), {len(labels)} test images, raw-pixel files",
            format_table(headers, rows),
            f"\nload average before {load_before}, after {load_average()}",
        ]
    )
    print(report)
    stem = "quantizers" if args.model == "resnet20" else f"quantizers_{args.model}"
    write_atomic(os.path.join(args.out, f"{stem}.md"), report + "\n")
    write_json(
        os.path.join(args.out, f"{stem}.json"),
        {"args": vars(args), "results": records, "load_before": load_before},
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

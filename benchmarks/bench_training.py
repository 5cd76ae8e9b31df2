"""Training images/s (one optimizer step): keras_convnets vs keras.applications, float32 vs bf16.

Pairs built in this process and timed in alternating rounds (ours, theirs,
ours, ...), the median of each: ResNet-50 (224x224) and InceptionV3
(299x299) against ``keras.applications``; ResNet-20 and ResNet-56 at 32x32
(CIFAR; no keras.applications counterpart, so ours alone). Each model is
compiled with SGD (momentum 0.9) and sparse categorical cross-entropy and
stepped with ``train_on_batch`` (the step ``fit`` runs), under the float32 and
the mixed_bfloat16 dtype policies.

Example::

    python -m benchmarks.bench_training --quick
    python -m benchmarks.bench_training --models resnet50 resnet20 --rounds 5
"""

from __future__ import annotations

import argparse
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

MODELS = ("resnet50", "inception_v3", "resnet20", "resnet56")
PRECISIONS = ("float32", "mixed_bfloat16")
DEFAULT_BATCH = {"resnet50": 16, "inception_v3": 16, "resnet20": 128, "resnet56": 128}


def build(name, precision, input_shape=None):
    """``{"ours": model, "keras.applications": model or absent}`` under ``precision``."""
    import keras

    from keras_convnets.models import resnet

    keras.config.set_dtype_policy(precision)
    try:
        if name == "resnet50":
            shape = input_shape or (224, 224, 3)
            return {
                "ours": resnet.ResNet50(weights=None, input_shape=shape),
                "keras.applications": keras.applications.ResNet50(weights=None, input_shape=shape),
            }
        if name == "inception_v3":
            from keras_convnets.models import inception_v3

            shape = input_shape or (299, 299, 3)
            return {
                # Without the auxiliary head: the same network as keras.applications.
                "ours": inception_v3.InceptionV3(weights=None, input_shape=shape, aux_logits=False),
                "keras.applications": keras.applications.InceptionV3(
                    weights=None, input_shape=shape
                ),
            }
        if name in ("resnet20", "resnet56"):
            builder = resnet.ResNet20 if name == "resnet20" else resnet.ResNet56
            return {"ours": builder(weights=None, input_shape=input_shape or (32, 32, 3))}
        raise ValueError(f"`name` must be one of {MODELS}. Received: name={name!r}")
    finally:
        keras.config.set_dtype_policy("float32")


def measure(args):
    """Rows ``[model, batch, precision, ours img/s, theirs img/s, ratio]``."""
    import keras
    import numpy as np

    from benchmarks._util import alternating_rates

    rows = []
    for name in args.models:
        batch = args.batch_size or DEFAULT_BATCH[name]
        shape = (args.image_size,) * 2 + (3,) if args.image_size else None
        fns = {}
        for precision in args.precisions:
            for who, model in build(name, precision, shape).items():
                model.compile(
                    optimizer=keras.optimizers.SGD(0.01, momentum=0.9),
                    loss="sparse_categorical_crossentropy",
                    jit_compile=args.jit,
                )
                rng = np.random.default_rng(0)
                x = rng.uniform(-1, 1, (batch, *model.input_shape[1:])).astype("float32")
                y = rng.integers(0, model.output_shape[-1], batch)
                fns[(who, precision)] = lambda m=model, x=x, y=y: m.train_on_batch(x, y)
        for fn in fns.values():  # trace (and compile) outside the timings
            for _ in range(args.warmup):
                fn()
        rates = alternating_rates(fns, items=batch, rounds=args.rounds)
        for precision in args.precisions:
            ours = rates[("ours", precision)]["median"]
            theirs = rates.get(("keras.applications", precision), {}).get("median", float("nan"))
            rows.append([name, batch, precision, ours, theirs, ours / theirs])
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", nargs="+", choices=MODELS, default=list(MODELS))
    parser.add_argument("--precisions", nargs="+", choices=PRECISIONS, default=list(PRECISIONS))
    parser.add_argument("--batch-size", type=int, default=None, help="default: per model")
    parser.add_argument("--image-size", type=int, default=None, help="default: the model's own")
    parser.add_argument("--jit", action="store_true", help="compile the step with XLA")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--out", default=None)
    parser.add_argument("--quick", action="store_true", help="tiny run for the smoke test")
    args = parser.parse_args(argv)
    if args.quick:
        args.models, args.batch_size, args.image_size = ["resnet20"], 2, 32
        args.rounds, args.warmup = 2, 1
    if args.batch_size is not None and args.batch_size < 1:
        raise ValueError(f"`--batch-size` must be >= 1. Received: {args.batch_size}")
    if args.rounds < 1:
        raise ValueError(f"`--rounds` must be >= 1. Received: {args.rounds}")

    from benchmarks._util import format_table, machine_summary, write_atomic, write_json

    before = machine_summary()
    rows = measure(args)
    after = machine_summary()
    report = "\n".join(
        [
            f"## One training step (train_on_batch, SGD), images/s, median of {args.rounds} "
            f"alternating rounds, XLA {'on' if args.jit else 'off'}",
            format_table(
                ["model", "batch", "precision", "ours", "keras.applications", "ours/theirs"], rows
            ),
            f"\nload average before {before['load_average']}, after {after['load_average']}; "
            f"{before['date_utc']} UTC",
        ]
    )
    print(report)
    if args.out:
        write_atomic(os.path.join(args.out, "training.md"), report + "\n")
        write_json(
            os.path.join(args.out, "training.json"),
            {
                "args": vars(args),
                "machine": before,
                "load_after": after["load_average"],
                "rows": rows,
            },
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())

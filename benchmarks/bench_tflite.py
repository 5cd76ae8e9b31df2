"""TFLite size and latency: float32, float16, dynamic, full int8 and QAT exports.

Converted with this package's export library (:mod:`keras_convnets.deploy`):
``tflite.convert`` for ``none`` (float32), ``float16``, ``dynamic`` and
``int8`` (full integer, int8 input and output), and for ``qat`` the tfmot
model of the tf_keras twin (``qat.quantize_model``, no fine-tuning: the
graph, and so size and latency, are those of a trained one) through
``qat.convert``. Models: ``keras_convnets`` ResNet-50 (224x224) and a CIFAR
ResNet (ResNet-20, 32x32), and ``keras.applications.ResNet50`` converted the
same way (its QAT model: ``tf_keras.applications.ResNet50`` wrapped by
``tfmot.quantization.keras.quantize_model``).

Latency: ``deploy.parity.tflite_latency`` (the ai-edge-litert interpreter,
XNNPACK), median ms of ``--runs`` (>= 20) invocations at batch 1 after 3
warm-ups, 1 and 2 threads. Full-integer calibration uses ``--representative``
random images: it sets the ranges, not the speed, so it does not change what
is measured here (accuracy is not measured here).

Conversion is slow on two cores and does not depend on the load; the models
are written to ``--out`` and ``--reuse`` times the existing files again.

Example::

    python -m benchmarks.bench_tflite --quick --out runs/bench
    python -m benchmarks.bench_tflite --out runs/bench --reuse   # latency only
"""

from __future__ import annotations

import argparse
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

MODES = ("none", "float16", "dynamic", "int8", "qat")
MODELS = ("resnet50", "keras.applications.ResNet50", "resnet20")


def _keras_model(name, input_shape):
    import keras

    from keras_convnets.models import resnet

    if name == "resnet50":
        return resnet.ResNet50(weights=None, input_shape=input_shape)
    if name == "resnet20":
        return resnet.ResNet20(weights=None, input_shape=input_shape)
    if name == "keras.applications.ResNet50":
        return keras.applications.ResNet50(weights=None, input_shape=input_shape)
    raise ValueError(f"`model` must be one of {MODELS}. Received: {name!r}")


def convert(name, mode, input_shape, representative):
    """TFLite bytes of model ``name`` exported with quantization ``mode``."""
    from keras_convnets.deploy import qat, tflite

    model = _keras_model(name, input_shape)
    if mode != "qat":
        return tflite.convert(model, mode, representative=representative)
    if name == "keras.applications.ResNet50":
        import tf_keras

        tfmot = qat.import_tfmot()
        twin = tf_keras.applications.ResNet50(weights=None, input_shape=input_shape)
        return qat.convert(tfmot.quantization.keras.quantize_model(twin))
    return qat.convert(qat.quantize_model(model))


def default_shape(name):
    return (32, 32, 3) if name == "resnet20" else (224, 224, 3)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", nargs="+", choices=MODELS, default=list(MODELS))
    parser.add_argument("--modes", nargs="+", choices=MODES, default=list(MODES))
    parser.add_argument("--threads", nargs="+", type=int, default=[1, 2])
    parser.add_argument("--runs", type=int, default=20, help="timed invocations (>= 20)")
    parser.add_argument("--representative", type=int, default=16, help="int8 calibration images")
    parser.add_argument("--image-size", type=int, default=None, help="default: the model's own")
    parser.add_argument("--out", default=os.path.join("runs", "bench"))
    parser.add_argument("--reuse", action="store_true", help="time existing .tflite files")
    parser.add_argument("--quick", action="store_true", help="tiny run for the smoke test")
    args = parser.parse_args(argv)
    if args.quick:
        args.models, args.modes, args.image_size = ["resnet20"], ["none", "dynamic"], 32
        args.threads = [1]
    if args.runs < 20:
        raise ValueError(f"`--runs` must be >= 20 (a median of at least 20). Received: {args.runs}")
    if any(t < 1 for t in args.threads):
        raise ValueError(f"`--threads` must all be >= 1. Received: {args.threads}")

    import numpy as np

    from benchmarks._util import format_table, load_average, write_atomic, write_json
    from keras_convnets import atomic
    from keras_convnets.deploy import parity

    folder = os.path.join(args.out, "tflite")
    os.makedirs(folder, exist_ok=True)
    load_before = load_average()
    rows, records = [], []
    rng = np.random.default_rng(0)
    for name in args.models:
        shape = (args.image_size,) * 2 + (3,) if args.image_size else default_shape(name)
        representative = rng.uniform(-1, 1, (args.representative, *shape)).astype("float32")
        sample = rng.uniform(-1, 1, (1, *shape)).astype("float32")
        for mode in args.modes:
            path = os.path.join(folder, f"{name}_{shape[0]}_{mode}.tflite")
            if not (args.reuse and os.path.exists(path)):
                import keras

                keras.backend.clear_session()
                atomic.write_bytes(path, convert(name, mode, shape, representative))
            with open(path, "rb") as f:
                content = f.read()
            latency = parity.tflite_latency(content, sample, threads=args.threads, runs=args.runs)
            row = [name, shape[0], mode, len(content) / 2**20]
            row += [latency[str(t)] for t in args.threads]
            rows.append(row)
            records.append({"model": name, "mode": mode, "bytes": len(content), "ms": latency})
            print(row, flush=True)
    headers = ["model", "input", "quantize", "MiB"] + [f"ms, {t} thread(s)" for t in args.threads]
    report = "\n".join(
        [
            f"## TFLite (ai-edge-litert, XNNPACK), batch 1, median of {args.runs} runs",
            format_table(headers, rows),
            f"\nload average before {load_before}, after {load_average()}",
        ]
    )
    print(report)
    write_atomic(os.path.join(args.out, "tflite.md"), report + "\n")
    write_json(
        os.path.join(args.out, "tflite.json"),
        {"args": vars(args), "results": records, "load_before": load_before},
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

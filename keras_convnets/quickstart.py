"""The offline quickstart behind ``make demo``: train, evaluate, export int8, check.

    python -m keras_convnets.quickstart                  # about 5 minutes on 2 cores
    python -m keras_convnets.quickstart --small          # about a minute (the test)
    python -m keras_convnets.quickstart --output_dir=/tmp/demo --steps=600

It trains ResNet-20 (He et al. 2015, §4.2: the CIFAR network, 32x32x3) with the
``resnet_cifar`` recipe of :mod:`keras_convnets.training` on real images, with
no download: the full Fashion-MNIST IDX files when ``--data_dir`` (default
``/usr/share/datasets/fashion-mnist``) holds them, else the 5,000/1,000-image
sample shipped in :mod:`keras_convnets.data.sample_data`. The 28x28 grey images go
through the CIFAR pipeline (zero-padded to 32x32, grey -> RGB, minus the
per-pixel mean). It then exports a full-integer int8 TFLite model with
:func:`keras_convnets.deploy.export_model` (calibrated on training images),
runs it with the LiteRT interpreter on test images and prints Keras vs TFLite
accuracy, file size and latency.

Outputs in ``--output_dir`` (default ``runs/demo``), each written atomically:
``train/`` (the training run: config, checkpoints, history, curves, weights;
the same command again resumes from its newest checkpoint, so give a new
``--output_dir`` for other settings), ``resnet20_int8.tflite``
with its ``.json``/``.parity.json``/``.labels.txt``/``.mean.npy``, and
``demo.json`` (the figures printed at the end), and ``tensorflow.log``
(TensorFlow's native log lines; ``--verbose`` prints them instead).
"""

from __future__ import annotations

import argparse
import gzip
import os
import sys
import time

import numpy as np

from keras_convnets import atomic
from keras_convnets._cli import check_output_dir, cli_errors

MODEL = "resnet20"
# (steps, batch, train examples, eval examples, representative images). ResNet-20
# trains at about 400 images/s on 2 cores: the full run (96,000 images, 1.8 epochs
# of the 54,000-image train split) takes about 5 minutes, --small well under one.
FULL = {"steps": 1500, "batch_size": 64, "train": None, "eval": 1000, "representative": 200}
SMALL = {"steps": 100, "batch_size": 32, "train": 2000, "eval": 200, "representative": 64}


def write_idx(path, array):
    """Writes a uint8 array as a gzip IDX file (the MNIST layout), atomically.

    Example:
        >>> import tempfile, numpy as np
        >>> from keras_convnets import data
        >>> p = os.path.join(tempfile.mkdtemp(), "x-idx1-ubyte.gz")
        >>> write_idx(p, np.arange(3, dtype=np.uint8))
        >>> data.read_idx(p).tolist()
        [0, 1, 2]
    """
    array = np.ascontiguousarray(array, dtype=np.uint8)
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(
        int(d).to_bytes(4, "big") for d in array.shape
    )
    with (
        atomic.writing(path, "wb") as raw,
        gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=1) as f,
    ):
        f.write(header + array.tobytes())


def resolve_data(data_dir, work_dir):
    """``(directory of IDX files, description)``: ``data_dir`` if it holds them, else the sample.

    The training loop reads MNIST-layout IDX files from a folder, so the shipped
    sample is written as such files under ``work_dir/fashion_mnist_sample``.

    Example:
        >>> import tempfile
        >>> folder, text = resolve_data(tempfile.mkdtemp(), tempfile.mkdtemp())
        >>> text.startswith("shipped sample")
        True
    """
    from keras_convnets import data

    try:
        data.load_idx_dataset(data_dir, "test")
        data.load_idx_dataset(data_dir, "train")
    except (ValueError, OSError) as err:
        if _idx_files(data_dir):
            # Files are there but unreadable: say so rather than train on the sample.
            raise ValueError(
                f"`data_dir` {os.fspath(data_dir)!r} holds IDX files that cannot be read: {err}"
            ) from None
    else:
        return data_dir, f"full Fashion-MNIST from {data_dir} (60,000 train / 10,000 test)"
    from keras_convnets.data.sample_data import load_fashion_mnist_sample

    folder = os.path.join(work_dir, "fashion_mnist_sample")
    os.makedirs(folder, exist_ok=True)
    for split, prefix in (("train", "train"), ("test", "t10k")):
        images, labels = load_fashion_mnist_sample(split)
        write_idx(os.path.join(folder, f"{prefix}-images-idx3-ubyte.gz"), images[..., 0])
        write_idx(os.path.join(folder, f"{prefix}-labels-idx1-ubyte.gz"), labels)
    return folder, (
        f"shipped sample of Fashion-MNIST (5,000 train / 1,000 test; no IDX files in {data_dir})"
    )


def _idx_files(directory) -> list[str]:
    """The MNIST-layout IDX file names present in ``directory``."""
    if not os.path.isdir(directory):
        return []
    return [n for n in os.listdir(directory) if "-idx" in n and "-ubyte" in n]


def _positive(name):
    def parse(text):
        try:
            value = int(text)
        except ValueError:
            value = 0
        if value < 1:
            raise argparse.ArgumentTypeError(
                f"--{name} must be an integer >= 1. Received: {name}={text!r}"
            )
        return value

    return parse


def parse_args(argv=None):
    """The command-line flags (see the module docstring)."""
    from keras_convnets import data

    p = argparse.ArgumentParser(
        prog="python -m keras_convnets.quickstart",
        description="Train ResNet-20 on Fashion-MNIST, export int8 TFLite, compare. Offline.",
    )
    p.add_argument("--output_dir", default=os.path.join("runs", "demo"))
    p.add_argument(
        "--data_dir",
        default=None,
        help=f"Fashion-MNIST IDX files (default {data.FASHION_MNIST_DIR}, else the sample).",
    )
    p.add_argument(
        "--steps", type=_positive("steps"), help="Training steps (default 1500; --small: 100)."
    )
    p.add_argument("--epochs", type=float, help="Training epochs instead of --steps.")
    p.add_argument("--batch_size", type=_positive("batch_size"))
    p.add_argument("--small", action="store_true", help="A one-minute run (for tests).")
    p.add_argument(
        "--verbose",
        action="store_true",
        help="Show TensorFlow's own log lines (by default they go to OUTPUT_DIR/tensorflow.log).",
    )
    args = p.parse_args(argv)
    if args.epochs is not None and not args.epochs > 0:
        p.error(f"--epochs must be > 0. Received: epochs={args.epochs!r}")
    if args.epochs is not None and args.steps is not None:
        p.error("Give --steps or --epochs, not both.")
    return args


def run(
    output_dir,
    *,
    data_dir=None,
    steps=None,
    epochs=None,
    batch_size=None,
    small=False,
    print_fn=print,
):
    """Trains, exports and checks; returns the figures (also written to ``demo.json``).

    Example:
        >>> import tempfile
        >>> r = run(tempfile.mkdtemp(), small=True, print_fn=lambda *a: None)  # doctest: +SKIP
        >>> sorted(r["tflite"])  # doctest: +SKIP
        ['accuracy', 'latency_ms', 'path', 'size_bytes']
    """
    from keras_convnets import data

    plan = _plan(small, steps=steps, epochs=epochs, batch_size=batch_size)
    start = time.perf_counter()
    output_dir = check_output_dir(output_dir, "output_dir")
    if data_dir is not None and not os.path.isdir(data_dir):
        raise ValueError(f"`data_dir` must be an existing folder. Received: data_dir={data_dir!r}")

    def say(text):
        print_fn(text)
        sys.stdout.flush()

    folder, source = resolve_data(data_dir or data.FASHION_MNIST_DIR, output_dir)
    os.makedirs(output_dir, exist_ok=True)  # after the data check: a refused run leaves nothing
    say(f"[1/3] data: {source}")
    train_dir = os.path.join(output_dir, "train")
    summary, model = _train(folder, train_dir, plan, epochs=epochs, small=small, say=say)
    say("[2/3] exporting full-integer int8 TFLite (calibrated on training images)")
    tflite_path = os.path.join(output_dir, f"{MODEL}_int8.tflite")
    report, (test_x, test_y) = _export(model, folder, train_dir, tflite_path, plan)
    say(f"[3/3] checking {os.path.basename(tflite_path)} with the LiteRT interpreter")
    checked = _check_with_interpreter(tflite_path, test_x[:8], test_y[:8])
    result = _result(source, summary, report, tflite_path, checked, time.perf_counter() - start)
    atomic.write_json(os.path.join(output_dir, "demo.json"), result, sort_keys=True)
    say(_summary_text(result, summary, report, checked))
    return result


def _plan(small, *, steps, epochs, batch_size) -> dict:
    """The run's sizes: the FULL or SMALL plan with the caller's steps and batch size."""
    plan = dict(SMALL if small else FULL)
    if epochs is not None and steps is not None:
        raise ValueError(f"Give `steps` or `epochs`, not both. Received: {steps=}, {epochs=}")
    if steps is not None:
        plan["steps"] = steps
    if batch_size is not None:
        plan["batch_size"] = batch_size
    return plan


def _train(folder, train_dir, plan, *, epochs, small, say):
    """Stage 1: ResNet-20 with the resnet_cifar recipe on the IDX files in ``folder``."""
    from keras_convnets.training import TrainConfig, train

    cfg = TrainConfig(
        recipe="resnet_cifar",
        model=MODEL,
        dataset="fashion_mnist",
        data_dir=folder,
        model_dir=train_dir,
        batch_size=plan["batch_size"],
        steps=None if epochs is not None else plan["steps"],
        epochs=epochs,
        max_train_examples=plan["train"],
        max_eval_examples=plan["eval"],
        log_every=5 if small else 25,
        checkpoint_every=10**9,  # the loop still saves at each epoch end and at the last step
    )
    say(f"[1/3] training {MODEL} ({cfg.recipe} recipe) into {train_dir}")
    return train(cfg, print_fn=say, return_model=True)


def _export(model, folder, train_dir, tflite_path, plan):
    """Stage 2: full-integer int8 TFLite calibrated on training images; returns the parity
    report and the test images ``(x, y)``."""
    from keras_convnets import data, deploy

    test_x, test_y = data.load_idx_dataset(folder, "test")
    train_x, _ = data.load_idx_dataset(folder, "train")
    picks = np.random.default_rng(0).permutation(len(train_x))[: plan["representative"]]
    report = deploy.export_model(
        model,
        tflite_path,
        quantize="int8",
        arch=MODEL,
        pipeline="cifar",
        mean_image=os.path.join(train_dir, "mean_image.npy"),
        labels=list(data.FASHION_MNIST_LABELS),
        representative_images=train_x[picks],
        representative_count=plan["representative"],
        eval_images=test_x[: plan["eval"]],
        eval_labels=test_y[: plan["eval"]],
        verbose=False,
    )
    return report, (test_x, test_y)


def _result(source, summary, report, tflite_path, checked, seconds) -> dict:
    """The figures of ``demo.json``."""
    return {
        "data": source,
        "model": MODEL,
        "train_steps": summary["steps"],
        "train_epochs": summary["epochs"],
        "train_images_per_second": summary["images_per_second"],
        "eval_images": report["samples"],
        "keras": {"accuracy": report["keras_accuracy"]},
        "tflite": {
            "path": tflite_path,
            "accuracy": report["export_accuracy"],
            "size_bytes": report["size_bytes"],
            "latency_ms": report["latency_ms"],
        },
        "top1_agreement": report["top1_agreement"],
        "interpreter_check": checked,
        "wall_seconds": round(seconds, 1),
    }


def _summary_text(result, summary, report, checked) -> str:
    """The lines printed at the end of the demo."""
    lat = report["latency_ms"]
    return "\n".join(
        [
            "",
            f"Data:             {result['data']}",
            f"Trained:          {summary['steps']} steps ({summary['epochs']:.2f} epochs)",
            f"Accuracy Keras:   {report['keras_accuracy']:.2f}% on {report['samples']} test images",
            f"Accuracy TFLite:  {report['export_accuracy']:.2f}% (int8; top-1 agreement "
            f"{report['top1_agreement']:.1f}%)",
            f"TFLite size:      {report['size_bytes'] / 1024:.1f} KB ({result['tflite']['path']})",
            f"TFLite latency:   {lat['1']:.2f} ms (1 thread), {lat['2']:.2f} ms (2 threads)",
            f"Interpreter:      {checked['correct']}/{checked['images']} of the first test "
            "images right",
            f"Wall time:        {result['wall_seconds']:.0f} s",
        ]
    )


def _check_with_interpreter(path, images, labels):
    """Runs the written file with the bare LiteRT interpreter, as a device app would.

    The file takes raw uint8 pixels: the CIFAR pipeline (centred zero padding to
    32x32, grey -> RGB, minus the training set's mean image) is in its graph, so
    the client only shows its grey images as RGB, as a camera frame would be.
    """
    from ai_edge_litert.interpreter import Interpreter

    with open(path, "rb") as f:
        content = f.read()
    interp = Interpreter(model_content=content)
    interp.allocate_tensors()
    inp = interp.get_input_details()[0]
    out = interp.get_output_details()[0]
    correct = 0
    for image, label in zip(images, labels):
        if image.ndim == 2:
            image = image[..., None]
        pixels = np.repeat(image, inp["shape"][-1] // image.shape[-1], axis=-1)
        interp.set_tensor(inp["index"], pixels[None].astype(np.uint8))
        interp.invoke()
        correct += int(interp.get_tensor(out["index"])[0].argmax() == label)
    return {"images": int(len(images)), "correct": correct}


@cli_errors
def main(argv=None):
    """Command-line entry point."""
    args = parse_args(argv)
    from keras_convnets import _logs

    check_output_dir(args.output_dir, "output_dir")  # before the log file goes there
    created = _first_missing_folder(args.output_dir)
    if args.verbose:
        _logs.restore_native_logs()
    else:
        log = _logs.send_native_logs_to(os.path.join(args.output_dir, "tensorflow.log"))
        print(f"TensorFlow's own log lines go to {log} (--verbose shows them here).")
    try:
        run(
            args.output_dir,
            data_dir=args.data_dir,
            steps=args.steps,
            epochs=args.epochs,
            batch_size=args.batch_size,
            small=args.small,
        )
    except (ValueError, TypeError):
        _remove_log_only_folder(created)  # a refused run leaves nothing
        raise
    return 0


def _first_missing_folder(path):
    """The outermost folder of ``path`` that does not exist yet (None if it exists)."""
    path, missing = os.path.abspath(path), None
    while not os.path.exists(path):
        path, missing = os.path.dirname(path), path
    return missing


def _remove_log_only_folder(folder):
    if folder is None or not os.path.isdir(folder):
        return
    files = [os.path.join(d, f) for d, _, fs in os.walk(folder) for f in fs]
    if all(os.path.basename(f) == "tensorflow.log" for f in files):
        import shutil

        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())

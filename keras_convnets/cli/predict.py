"""``keras-convnets predict IMAGE...``: the top-k classes of photos (command line of
:mod:`keras_convnets.predict`)."""

from __future__ import annotations

import argparse
import json
import sys

from keras_convnets._cli import cli_errors

DESCRIPTION = """\
Classify images with a training run, a registry model or an exported file.

IMAGE: image files (JPEG, PNG, BMP, GIF; any size, grey, RGB or RGBA) or folders
(every image under them, hidden files and folders left out).

The model, one of:
  --run=DIR           a finished `keras-convnets train` run: its model, its
                      evaluation transform and its class names (labels.txt)
  --model=NAME        a registry model (`keras-convnets list`) with --weights=FILE
                      or --weights=imagenet: the registry's normalisation
  --file=PATH         a .keras file, an exported .tflite file (run by the LiteRT
                      interpreter, input transform from the file and its .json)
                      or an exported SavedModel folder

Examples:
  keras-convnets predict --run=runs/photos photo.jpg
  keras-convnets predict --file=runs/photos/export/model_int8.tflite photos/ --json
  keras-convnets predict --model=resnet50 --weights=imagenet cat.jpg --top_k=3

Prints one line per image, "IMAGE: label probability, ...", most probable first
(--json: one JSON document). Files that are not readable images are named on
stderr and left out; the exit status is then 1.
"""


def _parser():
    parser = argparse.ArgumentParser(
        prog="keras-convnets predict",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("images", nargs="+", metavar="IMAGE", help="image files or folders")
    parser.add_argument("--run", default=None, help="a finished training run folder")
    parser.add_argument("--model", default=None, help="a registry name, with --weights")
    parser.add_argument("--weights", default=None, help="weights file or 'imagenet' (--model)")
    parser.add_argument("--file", default=None, help=".keras, .tflite or SavedModel folder")
    parser.add_argument(
        "--preprocessing",
        default="registry",
        choices=["registry", "caffe", "tf", "torch", "none"],
        help="normalisation of a .keras file that is neither a run's nor a registry model's",
    )
    parser.add_argument("--top_k", type=int, default=5, help="classes per image (default 5)")
    parser.add_argument("--json", action="store_true", help="one JSON document on stdout")
    return parser


def _check_source(args):
    """Exactly one of --run, --model, --file (said before any file is read)."""
    given = [f"--{k}" for k in ("run", "model", "file") if getattr(args, k) is not None]
    if len(given) != 1:
        raise ValueError(
            "Pass exactly one of --run=DIR, --model=NAME (with --weights) or --file=PATH. "
            f"Received: {', '.join(given) or 'none of them'}"
        )
    if args.weights is not None and args.model is None:
        raise ValueError(f"--weights goes with --model. Received: --weights={args.weights}")


def _classifier(args):
    from keras_convnets.predict import Classifier

    if args.run is not None:
        return Classifier.from_run(args.run)
    if args.model is not None:
        return Classifier.from_model(args.model, weights=args.weights)
    return Classifier.from_file(args.file, preprocessing=args.preprocessing)


class _Progress:
    """``classified 64/500`` on stderr, rewritten in place, only on a terminal."""

    def __init__(self, total):
        self.shown = total > KERAS_MIN_PROGRESS and sys.stderr.isatty()

    def __call__(self, done, total):
        if self.shown:
            print(f"\rclassified {done}/{total}", end="" if done < total else "\n",
                  file=sys.stderr, flush=True)  # fmt: skip


KERAS_MIN_PROGRESS = 16  # images before a progress line is worth showing


@cli_errors
def main(argv):
    args = _parser().parse_args(argv)
    if args.top_k < 1:
        raise ValueError(f"--top_k must be >= 1. Received: --top_k={args.top_k}")
    _check_source(args)
    from keras_convnets.predict import image_files

    files = image_files(args.images)  # before the model: a wrong path costs nothing
    clf = _classifier(args)
    failed = []

    def on_error(path, message):
        failed.append(path)
        print(f"skipped {message}", file=sys.stderr)

    results = clf.predict(files, args.top_k, on_error=on_error, progress=_Progress(len(files)))
    if args.json:
        doc = {
            "source": clf.source,
            "transform": clf.transform,
            "classes": clf.classes,
            "predictions": [p.to_json() for p in results],
            "skipped": failed,
        }
        print(json.dumps(doc, indent=2, ensure_ascii=False))
    else:
        for prediction in results:
            print(prediction)
    if failed:
        print(
            f"{len(failed)} of {len(files)} files were not readable images; "
            f"{len(results)} classified.",
            file=sys.stderr,
        )
        return 1
    return 0


def run(argv=None):
    """``argv``: the whole command, program name first (default ``sys.argv``)."""
    argv = sys.argv if argv is None else argv
    raise SystemExit(main(list(argv[1:])))

"""Command line: ``keras-convnets COMMAND`` (installed) or ``python -m keras_convnets COMMAND``.

* ``train``, ``evaluate``, ``export``: the recipes' command lines
  (:mod:`keras_convnets.cli`; ``keras-convnets train --help`` lists the flags,
  the same as ``python -m recipes.train`` in a checkout).
* ``predict IMAGE...``: the top-k classes of images (:mod:`keras_convnets.cli.predict`).
* ``demo``: the offline quickstart (:mod:`keras_convnets.quickstart`).

* ``list [PATTERN]``: registered models with their metadata.
* ``summary NAME [--input_shape H,W,C] [--per_layer]``: the cost table of one
  model, per block (or per layer), beside the paper's printed figures.
* ``table [PATTERN]``: builds every registered model and prints its
  parameters and multiply-adds beside the paper's.
* ``convert SOURCE OUTPUT.weights.h5 [--model NAME]``: downloads torchvision/timm
  weights (``timm:resnet50.a1_in1k``, ``torchvision:resnet50.IMAGENET1K_V2``, or
  a ``.pth``/``.safetensors`` file with ``--model``), converts them without
  PyTorch and writes a Keras weights file, for machines without network.

TensorFlow's native log lines go to ~/.cache/keras_convnets/tensorflow.log
(KERAS_CONVNETS_TF_LOG=PATH chooses the file; KERAS_CONVNETS_TF_LOG=- shows them).
"""

from __future__ import annotations

import argparse
import os
import sys
import time

from keras_convnets._cli import cli_errors

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def _fmt_paper(value, unit):
    if value is None:
        return "-"
    return f"{value / unit:g}"


def _cmd_list(args):
    from keras_convnets.models import registry

    if args.markdown:
        print(registry.markdown_table(args.pattern))
        return 0
    print(
        f"{'name':<18} {'family':<15} {'input':>12} {'classes':>7} {'params':>12} "
        f"{'GMACs':>8} {'prep':>6}  weights"
    )
    for name in registry.list_models(args.pattern):
        info = registry.model_info(name)
        shape = "x".join(str(d) for d in info.input_shape)
        print(
            f"{name:<18} {info.family:<15} {shape:>12} {info.classes:>7} {info.params:>12,} "
            f"{info.macs / 1e9:>8.3f} {info.preprocessing:>6}  "
            f"{len(info.weights) or '-'}"
        )
    return 0


def _parse_shape(text):
    try:
        shape = tuple(int(d) for d in text.split(","))
    except ValueError:
        raise ValueError(f"--input_shape must look like 224,224,3. Received: {text!r}") from None
    return shape


def _cmd_summary(args):
    from keras_convnets.analysis import cost
    from keras_convnets.models import heads, registry

    info = registry.model_info(args.name)
    kwargs = {}
    if args.input_shape:
        kwargs["input_shape"] = _parse_shape(args.input_shape)
    model = info.build(**kwargs)
    result = cost.analyze(model)
    print(f"{info.name}: {info.paper}")
    print(cost.format_table(result, paper_rows=info.paper_rows, per_layer=args.per_layer))
    trainable = sum(int(v.numpy().size) for v in model.trainable_weights)
    print(f"\nparameters: {result.params:,} (trainable {trainable:,})")
    main_macs = cost.analyze(heads.inference_model(model)).macs
    if main_macs != result.macs:
        print(f"multiply-adds with the auxiliary heads: {result.macs:,}")
    print(f"multiply-adds (main path): {main_macs:,} = {main_macs / 1e9:.3f} x10^9")
    if info.paper_macs:
        diff = main_macs / info.paper_macs - 1
        print(f"paper: {info.paper_macs / 1e9:g} x10^9 multiply-adds ({diff:+.1%})")
    if info.paper_params:
        print(f"paper: {info.paper_params / 1e6:g} M parameters")
    print(f"other ops (pooling, normalization, element-wise): {result.other_ops:,}")
    return 0


def _cmd_table(args):
    from keras_convnets.analysis import cost
    from keras_convnets.models import heads, registry

    head = (
        f"{'model':<12} {'input':>11} {'params':>12} {'paper params':>13} "
        f"{'GMACs':>8} {'paper GMACs':>12} {'build s':>8}"
    )
    print(head)
    print("-" * len(head))
    for name in registry.list_models(args.pattern):
        info = registry.model_info(name)
        start = time.perf_counter()
        model = info.build()
        result = cost.analyze(heads.inference_model(model))
        params = model.count_params()
        elapsed = time.perf_counter() - start
        shape = "x".join(str(d) for d in info.input_shape)
        print(
            f"{name:<12} {shape:>11} {params:>12,} "
            f"{_fmt_paper(info.paper_params, 1e6) + ('M' if info.paper_params else ''):>13} "
            f"{result.macs / 1e9:>8.3f} {_fmt_paper(info.paper_macs, 1e9):>12} "
            f"{elapsed:>8.1f}",
            flush=True,
        )
        del model
    return 0


def _cmd_convert(args):
    """Converts torchvision/timm weights once into a ``.weights.h5`` file, for offline use."""
    from keras_convnets import atomic
    from keras_convnets.models import pretrained, registry

    if not args.output.endswith(".weights.h5"):
        raise ValueError(f"The output must end in .weights.h5. Received: {args.output!r}")
    variant, source = pretrained.conversion_target(args.source, model=args.model)
    keras_model = registry.get_model(variant, weights=source)  # a failed download: exit 1
    with atomic.Staging() as staging:
        keras_model.save_weights(staging.path(args.output, suffix=".weights.h5"))
    print(f"wrote {args.output}: load it with keras_convnets.get_model({variant!r}, weights=...)")
    return 0


# Commands with a command line of their own: (module, help). Flags are snake_case everywhere.
_FORWARDED = {
    "train": ("keras_convnets.cli.train", "train a registered model with a recipe (--help)"),
    "evaluate": ("keras_convnets.cli.evaluate", "evaluate a run or a model (--help)"),
    "export": ("keras_convnets.cli.export", "export to SavedModel or TFLite (--help)"),
    "predict": ("keras_convnets.cli.predict", "classify images with a run or a file (--help)"),
    "demo": ("keras_convnets.quickstart", "the offline quickstart: train, export, check (--help)"),
}

DESCRIPTION = """\
The command line of keras_convnets (also: python -m keras_convnets COMMAND).

  train, evaluate, export   the recipes' command lines (COMMAND --help lists the flags)
  predict IMAGE...          the top-k classes of photos, with a run, a model or a file
  demo                      the offline quickstart: train, export int8, check
  list [PATTERN]            registered models with their metadata (--markdown: a table)
  summary NAME              the cost table of one model beside the paper's figures
  table [PATTERN]           builds every registered model, prints params and MACs
  convert SOURCE OUT.weights.h5
                            torchvision/timm weights to a Keras weights file, no PyTorch

TensorFlow's native log lines go to ~/.cache/keras_convnets/tensorflow.log
(KERAS_CONVNETS_TF_LOG=PATH chooses the file; KERAS_CONVNETS_TF_LOG=- shows them).
"""


def _forward(command, rest):
    """Runs ``command``'s own command line with the remaining arguments."""
    import importlib

    module = importlib.import_module(_FORWARDED[command][0])
    if command == "demo":
        return module.main(rest)
    module.run([f"keras-convnets {command}", *rest])
    return 0


@cli_errors
def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in _FORWARDED:
        return _forward(argv[0], argv[1:])
    parser = argparse.ArgumentParser(
        prog="keras-convnets",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True)
    for command, (_, text) in _FORWARDED.items():
        sub.add_parser(command, help=text, add_help=False)
    p = sub.add_parser("list", help="registered models")
    p.add_argument("pattern", nargs="?", default=None)
    p.add_argument("--markdown", action="store_true", help="the README's model table")
    p.set_defaults(func=_cmd_list)
    p = sub.add_parser("summary", help="cost table of one model")
    p.add_argument("name")
    p.add_argument("--input_shape", default=None, help="H,W,C (default: the model's)")
    p.add_argument("--per_layer", action="store_true", help="one row per layer")
    p.set_defaults(func=_cmd_summary)
    p = sub.add_parser("table", help="build every model and print its costs")
    p.add_argument("pattern", nargs="?", default=None)
    p.set_defaults(func=_cmd_table)
    p = sub.add_parser("convert", help="torchvision/timm weights to a Keras .weights.h5 file")
    p.add_argument("source", help="timm:<tag>, torchvision:<model>.<tag>, or a local file")
    p.add_argument("output", help="OUTPUT.weights.h5")
    p.add_argument("--model", default=None, help="registered name, e.g. resnet50_torch")
    p.set_defaults(func=_cmd_convert)
    args = parser.parse_args(argv)
    return args.func(args)  # errors: one sentence and the exit status of every command (cli_errors)


if __name__ == "__main__":
    sys.exit(main())

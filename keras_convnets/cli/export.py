r"""Exports a model for deployment and prints its parity report.

Examples::

    # A finished training run (keras-convnets train --model_dir): its model, transform,
    # labels, and its data for int8 calibration and the parity report:
    keras-convnets export --run=runs/photos --format=tflite --quantize=int8

    keras-convnets export --model=resnet20 --weights=run/ckpt.weights.h5 \
        --format=tflite --quantize=int8 --dataset=fashion_mnist
    keras-convnets export --model=run/model.keras --format=savedmodel --preprocessing=tf
    keras-convnets export --model=resnet20 --weights=w.weights.h5 --quantize=qat \
        --dataset=fashion_mnist --qat_steps=200

Writes ``--output`` (default ``export_out/<model>_<quantize>.tflite`` or
``export_out/<model>_savedmodel``; ``_ai_edge`` added for ``--quantizer=ai_edge``;
with ``--run``, under ``<run>/export/``) and beside it ``.labels.txt``, ``.json``
(metadata), ``.parity.json`` and ``.manifest.json``, as one atomic unit. Exit
status 2 on bad arguments (said before any work), 1 on a failed conversion.
"""

from __future__ import annotations

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from absl import flags  # noqa: E402

from keras_convnets._cli import EXIT_ERROR, check_output_file, cli_errors, run_absl  # noqa: E402

FLAGS = flags.FLAGS
flags.DEFINE_string(
    "run",
    None,
    "A finished training run directory: model, transform, labels and data from its run.json.",
)
flags.DEFINE_string("model", None, "Registry name (e.g. resnet20) or a .keras file.")
flags.DEFINE_string(
    "weights",
    None,
    "Weights for a registry name: a .weights.h5/.h5 file, imagenet, torchvision[:TAG] or "
    "timm[:TAG] (converted), as the builders' weights= takes.",
)
flags.DEFINE_string("format", "tflite", "savedmodel or tflite.")
flags.DEFINE_string("quantize", "none", "none, float16, dynamic, int8 or qat (TFLite only).")
flags.DEFINE_string(
    "io_type", None, "int8, uint8 or float32: integer I/O of int8 and qat (default: see README)."
)
flags.DEFINE_string(
    "input",
    None,
    "raw (uint8 pixels, transform in the graph; default for int8, qat) or normalized.",
)
flags.DEFINE_string(
    "raw_size",
    None,
    "H,W of a raw-pixel file (default: the dataset's image size; the model's input size when "
    "the images differ in size, as photos do: each is then padded or resized as in training).",
)
flags.DEFINE_integer("raw_channels", None, "3 (RGB) or 1 (grey) pixels of a raw-pixel file.")
flags.DEFINE_string("quantizer", "tf", "tf (TensorFlow converter) or ai_edge (AI Edge Quantizer).")
flags.DEFINE_string("recipe", None, "AI Edge Quantizer recipe, e.g. static_wi8_ai16.")
flags.DEFINE_string("model_name", None, "Name inside the TFLite metadata (default: the model).")
flags.DEFINE_string("description", None, "Description inside the TFLite metadata.")
flags.DEFINE_string("model_version", "1", "Version inside the TFLite metadata.")
flags.DEFINE_string("author", "unspecified", "Author inside the TFLite metadata.")
flags.DEFINE_string("license", "unspecified", "Licence inside the TFLite metadata.")
flags.DEFINE_string(
    "dataset",
    None,
    "Representative, evaluation and QAT data: a keras_convnets.data name (fashion_mnist, cifar10, "
    "folder, ...; with --data_dir), an image folder or an IDX folder. Default with --run: the "
    "run's data with its split rules.",
)
flags.DEFINE_string("data_dir", None, "data_dir of --dataset (TFDS dir, image or IDX folder).")
flags.DEFINE_string("output", None, "Output .tflite file or SavedModel folder.")
flags.DEFINE_string("labels", None, "Labels file, one class name a line.")
flags.DEFINE_string(
    "preprocessing", None, "caffe, tf or torch: the normalisation used in training."
)
flags.DEFINE_string("pipeline", None, "Training pipeline whose evaluation transform to embed.")
flags.DEFINE_string(
    "mean_image", None, "mean_image.npy of pipeline 'cifar' (default: by --weights)."
)
flags.DEFINE_string("input_shape", None, "H,W,C for a registry name (e.g. 32,32,3).")
flags.DEFINE_integer("classes", None, "Number of classes for a registry name.")
flags.DEFINE_string("shortcut", None, "ResNet shortcut option A, B or C for a registry name.")
flags.DEFINE_integer("representative_count", 200, "Representative images for int8.")
flags.DEFINE_integer("eval_count", 500, "Labelled evaluation images of the parity report.")
flags.DEFINE_integer("qat_steps", 100, "QAT fine-tuning steps.")
flags.DEFINE_integer("qat_batch_size", 32, "QAT batch size.")
flags.DEFINE_float("qat_learning_rate", 1e-4, "QAT learning rate (Adam).")
flags.DEFINE_integer(
    "top_k", None, "k of the SavedModel's top-k outputs (default min(5, classes))."
)
flags.DEFINE_integer("latency_runs", 20, "Timed TFLite invocations (>= 20).")
flags.DEFINE_boolean(
    "no_fold", False, "SavedModel: keep BN as trained instead of serving it folded (debugging)."
)


def _shape(text, name="input_shape"):
    try:
        return tuple(int(d) for d in text.split(","))
    except ValueError:
        example = "32,32,3" if name == "input_shape" else "28,28"
        raise ValueError(f"`{name}` must look like {example}. Received: {name}={text!r}") from None


def _check_data_dir(data_dir, dataset):
    if data_dir is None:
        return
    if not dataset:
        raise ValueError(
            f"`data_dir` is the folder of --dataset, which is not given (with --run too, name "
            f"the dataset). Received: data_dir={data_dir!r}"
        )
    if not os.path.isdir(data_dir):
        raise ValueError(
            f"`data_dir` must be an existing directory. Received: data_dir={data_dir!r}"
        )


def _model_arguments():
    """The model, transform, labels and data arguments: from --run, or from the flags."""
    from keras_convnets.deploy import datasets
    from keras_convnets.deploy.exporter import check_top_k, run_export_arguments

    _check_data_dir(FLAGS.data_dir, FLAGS.dataset)
    data = datasets.source(FLAGS.dataset, FLAGS.data_dir) if FLAGS.dataset else None
    given = {
        "model": FLAGS.model,
        "weights": FLAGS.weights,
        "pipeline": FLAGS.pipeline,
        "preprocessing_mode": FLAGS.preprocessing,
        "mean_image": FLAGS.mean_image,
        "labels": FLAGS.labels,
        "input_shape": _shape(FLAGS.input_shape) if FLAGS.input_shape else None,
        "classes": FLAGS.classes,
    }
    if FLAGS.run:
        args = run_export_arguments(FLAGS.run, dataset=data, **given)
        check_top_k(FLAGS.top_k, len(args["labels"]))  # before any work
        return args, os.path.join(FLAGS.run, "export"), args["arch"] or "model"
    if not FLAGS.model:
        raise ValueError("--model is required (a registry name or a .keras file), or --run=DIR")
    folder = os.path.dirname(os.path.abspath(FLAGS.model))
    if (
        FLAGS.model.endswith(".keras")
        and os.path.isfile(os.path.join(folder, "run.json"))
        and not (FLAGS.pipeline or FLAGS.preprocessing)
    ):
        raise ValueError(
            f"--model={FLAGS.model} is the model of the training run {folder}: export it with "
            f"--run={folder}, which applies the run's input transform."
        )
    given["dataset"] = data
    given["build_kwargs"] = {"shortcut": FLAGS.shortcut} if FLAGS.shortcut else None
    return given, "export_out", os.path.basename(FLAGS.model).removesuffix(".keras")


@cli_errors
def main(argv):
    del argv
    from absl import logging

    logging.set_verbosity(logging.WARNING)  # TensorFlow's SavedModel INFO lines drown the table
    from keras_convnets.deploy import ConversionError, export_model
    from keras_convnets.deploy.exporter import default_stem

    try:
        args, folder, name = _model_arguments()
        output = FLAGS.output or os.path.join(
            folder,
            default_stem(name, FLAGS.format, FLAGS.quantize, FLAGS.quantizer)
            + (".tflite" if FLAGS.format == "tflite" else ""),
        )
        model = args.pop("model")
        check_output_file(output, "output")
        export_model(
            model,
            output,
            format=FLAGS.format,
            quantize=FLAGS.quantize,
            io_type=FLAGS.io_type,
            input=FLAGS.input,
            raw_size=_shape(FLAGS.raw_size, "raw_size") if FLAGS.raw_size else None,
            raw_channels=FLAGS.raw_channels,
            quantizer=FLAGS.quantizer,
            recipe=FLAGS.recipe,
            model_name=FLAGS.model_name,
            description=FLAGS.description,
            model_version=FLAGS.model_version,
            author=FLAGS.author,
            license=FLAGS.license,
            representative_count=FLAGS.representative_count,
            eval_count=FLAGS.eval_count,
            qat_steps=FLAGS.qat_steps,
            qat_batch_size=FLAGS.qat_batch_size,
            qat_learning_rate=FLAGS.qat_learning_rate,
            top_k=FLAGS.top_k,
            latency_runs=FLAGS.latency_runs,
            fold=not FLAGS.no_fold,
            **args,
        )
    except ConversionError as err:
        print(f"conversion failed: {err}", file=sys.stderr)
        return EXIT_ERROR
    return 0


def run(argv=None):
    """Runs the command line; ``argv``: the whole command, program name first (default sys.argv)."""
    run_absl(main, sys.modules[__name__], argv)


if __name__ == "__main__":
    run()

"""Exports a model for deployment and prints its parity report.

Examples::

    python -m export --model=resnet20 --weights=run/ckpt.weights.h5 \
        --format=tflite --quantize=int8 --dataset=fashion_mnist
    python -m export --model=run/model.keras --format=savedmodel --preprocessing=tf
    python -m export --model=resnet20 --weights=w.weights.h5 --quantize=qat \
        --dataset=fashion_mnist --qat_steps=200

Writes ``--output`` (default ``export_out/<model>_<quantize>.tflite`` or
``export_out/<model>_savedmodel``) and beside it ``.labels.txt``, ``.json``
(metadata) and ``.parity.json``, all atomically. Exit status 2 on bad
arguments (said before any work), 1 on a failed conversion.
"""

from __future__ import annotations

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from absl import app, flags  # noqa: E402

FLAGS = flags.FLAGS
flags.DEFINE_string("model", None, "Registry name (e.g. resnet20) or a .keras file.")
flags.DEFINE_string("weights", None, "Weights file (.weights.h5, .h5) for a registry name.")
flags.DEFINE_string("format", "tflite", "savedmodel or tflite.")
flags.DEFINE_string("quantize", "none", "none, float16, dynamic, int8 or qat (TFLite only).")
flags.DEFINE_string("io_type", "int8", "int8, uint8 or float32: input/output of int8 and qat.")
flags.DEFINE_string("dataset", None, "fashion_mnist: representative, evaluation and QAT data.")
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
flags.DEFINE_integer("top_k", 5, "k of the SavedModel's top-k outputs.")
flags.DEFINE_integer("latency_runs", 20, "Timed TFLite invocations (>= 20).")
flags.DEFINE_boolean(
    "no_fold", False, "SavedModel: keep BN as trained instead of serving it folded (debugging)."
)


def _shape(text):
    try:
        return tuple(int(d) for d in text.split(","))
    except ValueError:
        raise ValueError(
            f"`input_shape` must look like 32,32,3. Received: input_shape={text!r}"
        ) from None


def main(argv):
    del argv
    from absl import logging

    logging.set_verbosity(logging.WARNING)  # TensorFlow's SavedModel INFO lines drown the table
    from keras_convnets.deploy import ConversionError, export_model
    from keras_convnets.deploy.exporter import default_stem

    if not FLAGS.model:
        print("error: --model is required (a registry name or a .keras file)", file=sys.stderr)
        return 2
    try:
        name = os.path.basename(FLAGS.model).removesuffix(".keras")
        output = FLAGS.output or os.path.join(
            "export_out",
            default_stem(name, FLAGS.format, FLAGS.quantize)
            + (".tflite" if FLAGS.format == "tflite" else ""),
        )
        build_kwargs = {"shortcut": FLAGS.shortcut} if FLAGS.shortcut else None
        export_model(
            FLAGS.model,
            output,
            format=FLAGS.format,
            quantize=FLAGS.quantize,
            io_type=FLAGS.io_type,
            weights=FLAGS.weights,
            input_shape=_shape(FLAGS.input_shape) if FLAGS.input_shape else None,
            classes=FLAGS.classes,
            build_kwargs=build_kwargs,
            preprocessing_mode=FLAGS.preprocessing,
            pipeline=FLAGS.pipeline,
            mean_image=FLAGS.mean_image,
            dataset=FLAGS.dataset,
            labels=FLAGS.labels,
            representative_count=FLAGS.representative_count,
            eval_count=FLAGS.eval_count,
            qat_steps=FLAGS.qat_steps,
            qat_batch_size=FLAGS.qat_batch_size,
            qat_learning_rate=FLAGS.qat_learning_rate,
            top_k=FLAGS.top_k,
            latency_runs=FLAGS.latency_runs,
            fold=not FLAGS.no_fold,
        )
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except ConversionError as err:
        print(f"conversion failed: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    app.run(main)

r"""Evaluates a model or an ensemble as the papers did: centre crop, 10 crops or 144 crops.

Examples::

    # A finished training run: its model, transform, classes and test split (the
    # accuracy the run reported, on the same images):
    keras-convnets evaluate --run runs/photos

    # The same run on other images of the same classes (an image folder):
    keras-convnets evaluate --run runs/photos --dataset new_photos/

    # A .keras file (repeat --model_file for an ensemble) on Fashion-MNIST:
    keras-convnets evaluate --model_file run/model.keras --dataset fashion_mnist \
        --crops 10 --resize 32 --output run/eval.json

    # A registry model with a weights file, on an image folder (one subfolder per class):
    keras-convnets evaluate --model resnet50 --weights w.weights.h5 \
        --dataset /data/imagenet/val --crops 144 --preprocessing caffe

Prints the input transform used and a table with top-1/top-k accuracy and
error (k = min(5, classes) by default), and writes the same figures, with how
they were measured, to ``--output`` as JSON (atomically).
Softmax probabilities are averaged over crops and over models
(:func:`keras_convnets.analysis.evaluation.evaluate`).
"""

from __future__ import annotations

import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from absl import flags  # noqa: E402

from keras_convnets import run_evaluation as run_eval  # noqa: E402
from keras_convnets._cli import check_output_file, cli_errors, run_absl  # noqa: E402

# Names this recipe reads itself; every name of keras_convnets.data.DATASETS works too.
LOCAL_DATASETS = ("fashion_mnist_idx", "fashion_mnist_sample")
PREPROCESS_CHOICES = ("none", "rescale", "caffe", "tf", "torch")

FLAGS = flags.FLAGS
flags.DEFINE_string(
    "run",
    None,
    "A finished training run (recipes.train --model_dir): model.keras, the run's evaluation "
    "transform, classes and test split from its run.json. --dataset/--data_dir/--split pick "
    "other images of the same classes.",
)
flags.DEFINE_string("model", None, "Registry name (see `python -m keras_convnets list`).")
flags.DEFINE_string(
    "weights",
    None,
    "Weights for --model: a .weights.h5 file, imagenet, torchvision[:TAG] or timm[:TAG].",
)
flags.DEFINE_integer("classes", None, "Classes of --model (default: the registry's).")
flags.DEFINE_string("input_shape", None, "Input shape of --model as H,W,C, e.g. 28,28,1.")
flags.DEFINE_multi_string("model_file", [], "A .keras model; repeat for an ensemble.")
flags.DEFINE_string(
    "dataset",
    "fashion_mnist",
    "A name of keras_convnets.data (fashion_mnist, cifar10, imagenet2012, folder, ...), "
    f"{' or '.join(LOCAL_DATASETS)}, a folder of MNIST-layout IDX files, or an image folder "
    "with one subfolder per class (labels are the sorted subfolder names).",
)
flags.DEFINE_string(
    "split", "test", "Split: test, or with keras_convnets.data names also train, val, train_full."
)
flags.DEFINE_string("data_dir", None, "keras_convnets.data's data_dir (TFDS dir, image folder).")
flags.DEFINE_enum("crops", "center", ["center", "10", "144"], "Crops per image: 1, 10 or 144.")
flags.DEFINE_integer("size", None, "Crop size (default: the model's input size).")
flags.DEFINE_integer(
    "resize", None, "center/10 crops: resize the shorter side to this first (ResNet: 256)."
)
flags.DEFINE_list(
    "scales", None, "144 crops: shorter-side scales (default 256,288,320,352 x size/224)."
)
flags.DEFINE_list("top_k", None, "The k's of top-k accuracy (default: 1 and min(5, classes)).")
flags.DEFINE_enum(
    "preprocessing",
    "none",
    list(PREPROCESS_CHOICES),
    "Applied to the crops: none, rescale (x/255) or a keras.applications mode.",
)
flags.DEFINE_enum(
    "preprocess", None, list(PREPROCESS_CHOICES), "Deprecated spelling of --preprocessing."
)
flags.DEFINE_integer("batch_size", 64, "Crops per forward pass.")
flags.DEFINE_integer("max_images", None, "Evaluate the first N images only.")
flags.DEFINE_string("output", None, "Path of the JSON report (written atomically).")
flags.DEFINE_boolean(
    "fold", False, "Evaluate keras_convnets.optimize_for_inference(model): BN folded, ReLU fused."
)


def _fail(message):
    # A bad flag or value: said by cli_errors in one sentence, exit status 2 (as every command).
    # absl's UsageError would bury it under the whole help.
    raise ValueError(message)


def _load_models():
    import keras_convnets
    from keras_convnets.models import registry

    if FLAGS.model and FLAGS.model_file:
        _fail("Pass either --model (with --weights) or --model_file, not both.")
    if FLAGS.model_file:
        models = []
        for path in FLAGS.model_file:
            if not os.path.exists(path):
                _fail(f"--model_file {path!r} does not exist.")
            models.append(keras_convnets.load_model(path, compile=False))
        return models, list(FLAGS.model_file)
    if not FLAGS.model:
        _fail("Pass --model NAME (with --weights FILE) or --model_file FILE.keras.")
    kwargs = {"weights": FLAGS.weights}
    if FLAGS.classes is not None:
        kwargs["classes"] = FLAGS.classes
    if FLAGS.input_shape:
        try:
            kwargs["input_shape"] = tuple(int(d) for d in FLAGS.input_shape.split(","))
        except ValueError:
            _fail(f"--input_shape must look like 224,224,3. Received: {FLAGS.input_shape!r}")
    if FLAGS.weights is None:
        print("warning: --model without --weights evaluates random weights", file=sys.stderr)
    return [registry.get_model(FLAGS.model, **kwargs)], [f"{FLAGS.model}:{FLAGS.weights}"]


def _named_datasets():
    from keras_convnets import data

    return getattr(data, "DATASETS", {})


def _files_dataset(files, labels, channels):
    """``tf.data`` of ``(image [H, W, C] uint8, label)`` decoded from image files."""
    import tensorflow as tf

    def load(file, label):
        raw = tf.io.read_file(file)
        return tf.io.decode_image(raw, channels=channels, expand_animations=False), label

    # Images keep their own sizes (the crops resize them), so they come one at a time.
    return tf.data.Dataset.from_tensor_slices((list(files), list(labels))).map(load)


def _say_skipped(split):
    from keras_convnets import data

    for line in data.describe_skipped(split):
        print(line)


def _match_channels_tf(image, label, channels):
    import tensorflow as tf

    if image.shape[-1] == 1 and channels == 3:
        image = tf.image.grayscale_to_rgb(image)
    elif image.shape[-1] == 3 and channels == 1:
        image = tf.image.rgb_to_grayscale(image)
    return image, label


def _from_split(split, channels):
    """A ``keras_convnets.data.Split`` as arrays or a ``tf.data`` pipeline."""
    if split.images is not None:
        return split.images, split.labels
    if split.paths is not None:
        return _files_dataset(split.paths, split.labels, channels)
    builder, split_string = split.tfds
    ds = builder.as_dataset(split=split_string, shuffle_files=False, as_supervised=True)
    return ds.map(lambda x, y: _match_channels_tf(x, y, channels))


def _idx_split():
    if FLAGS.split not in ("train", "test"):
        _fail(f"--split must be train or test for IDX files. Received: --split={FLAGS.split!r}")
    return FLAGS.split


def _check_classes(model_classes, data_classes, names=()):
    """A model scores only the classes it was trained on: the data must have as many."""
    if data_classes is not None and data_classes != model_classes:
        listed = f" ({', '.join(names)})" if names else ""
        raise ValueError(
            f"The model has {model_classes} classes, --dataset={FLAGS.dataset} has "
            f"{data_classes} classes{listed}: its labels would not be the model's. Evaluate "
            "on data of the model's classes (a run's model: --run=MODEL_DIR)."
        )


def _load_dataset(channels, classes):
    """Arrays ``(images, labels)`` or a ``tf.data`` pipeline, matched to the model's channels,
    and the report's entries on files left out (``skipped_images``, ``skipped_files``).
    Data of another number of classes than the model's ``classes`` raises ``ValueError``."""
    from keras_convnets import data
    from keras_convnets.data.idx import FASHION_MNIST_LABELS

    name = FLAGS.dataset
    if name == "fashion_mnist_idx" or (name == "fashion_mnist" and name not in _named_datasets()):
        source = data.load_idx_dataset(FLAGS.data_dir or data.FASHION_MNIST_DIR, _idx_split())
    elif name == "fashion_mnist_sample":
        from keras_convnets.data.sample_data import load_fashion_mnist_sample

        source = load_fashion_mnist_sample(_idx_split())
    elif name in _named_datasets():
        split = data.load_split(
            name, FLAGS.split, data_dir=FLAGS.data_dir, max_examples=FLAGS.max_images
        )
        _check_classes(classes, split.classes, split.class_names)
        _say_skipped(split)
        source = _from_split(split, channels)
        if not isinstance(source, tuple):
            return source, run_eval.skipped_report(split)
    elif any("-idx" in f for f in os.listdir(name)):
        source = data.load_idx_dataset(name, _idx_split())
    else:
        split = run_eval.image_folder_split(name)
        _check_classes(classes, split.classes, split.class_names)
        _say_skipped(split)
        return _files_dataset(split.paths, split.labels, channels), run_eval.skipped_report(split)
    if name not in _named_datasets():  # IDX files: (Fashion-)MNIST's ten classes
        _check_classes(classes, len(FASHION_MNIST_LABELS))
    images, labels = source
    if FLAGS.max_images:
        images, labels = images[: FLAGS.max_images], labels[: FLAGS.max_images]
    if images.shape[-1] == 1 and channels == 3:
        # Grayscale datasets on RGB models: the same image in the 3 channels.
        images = images.repeat(3, axis=-1)
    elif images.shape[-1] != channels:
        _fail(f"--dataset images have {images.shape[-1]} channels, the model takes {channels}.")
    return (images, labels), {}


def _preprocess():
    name = FLAGS.preprocessing
    if name == "none":
        return None
    if name == "rescale":
        return lambda x: x / 255.0
    return name


def format_table(result, ks) -> str:
    """The result as a small text table (accuracy and error in percent)."""
    header = f"{'models':>6} {'crops':>6} {'cost':>6} {'images':>8}"
    row = (
        f"{result['models']:>6} {result['crops_per_image']:>6} {result['cost']:>6} "
        f"{result['images']:>8}"
    )
    for k in ks:
        header += f" {f'top-{k} acc':>10} {f'top-{k} err':>10}"
        row += f" {100 * result[f'top{k}_accuracy']:>9.2f}% {100 * result[f'top{k}_error']:>9.2f}%"
    return f"{header}\n{row}"


# Flags that would describe the model or its transform a second time: with --run they conflict.
RUN_OWNED = ("model", "weights", "model_file", "classes", "input_shape", "preprocessing",
             "preprocess", "size", "resize", "scales")  # fmt: skip


def _top_k(classes):
    """The --top_k values, by default (1, min(5, classes)); checked against ``classes``."""
    try:
        ks = tuple(int(k) for k in FLAGS.top_k) if FLAGS.top_k else None
    except ValueError:
        _fail(f"--top_k takes integers. Received: --top_k={','.join(FLAGS.top_k)}")
    return run_eval.check_top_k(ks, classes)


def _check_run_flags(run):
    """A flag that says again what the run says must agree with it (:func:`check_against_run`)."""
    from keras_convnets import runs as run_lib

    given = {name: FLAGS[name].value for name in RUN_OWNED if FLAGS[name].present}
    run_lib.check_against_run(run, given, as_flags=True)
    if FLAGS.crops != "center":
        _fail(
            f"--crops={FLAGS.crops} contradicts --run={run.directory}: the run's evaluation "
            "transform gives one view of the model's input size (use --crops=center)."
        )


def _evaluate_run():
    """``keras_convnets.evaluate_run`` with the flags; the flags the run owns must agree."""
    from keras_convnets import runs as run_lib

    run = run_lib.load_run(FLAGS.run)
    _check_run_flags(run)
    given = {name: FLAGS[name].value for name in ("dataset", "data_dir") if FLAGS[name].present}
    report = run_eval.evaluate_run(
        FLAGS.run, split=FLAGS.split, max_images=FLAGS.max_images, top_k=_top_k(run.classes),
        batch_size=FLAGS.batch_size, fold=FLAGS.fold, **given,
    )  # fmt: skip
    return report, tuple(report["top_k"]), report  # the report holds evaluate()'s result


def _evaluate_models(scales):
    from keras_convnets.analysis import evaluation

    name = FLAGS.dataset
    known = tuple(dict.fromkeys(("fashion_mnist", *_named_datasets(), *LOCAL_DATASETS)))
    if name not in known and not os.path.isdir(name):
        _fail(
            f"--dataset must be one of {', '.join(known)} or an existing folder. "
            f"Received: --dataset={name!r}"
        )
    models, names = _load_models()
    if FLAGS.fold:
        from keras_convnets.models.inference import optimize_for_inference

        models = [optimize_for_inference(m) for m in models]
    ks = _top_k(int(models[0].output_shape[-1]))
    channels = int(models[0].input_shape[-1])
    size = FLAGS.size or int(models[0].input_shape[1])
    transform = {
        "crops": FLAGS.crops, "size": size, "resize": FLAGS.resize,
        "preprocess": FLAGS.preprocessing, "channels": channels,
    }  # fmt: skip
    print(
        f"transform: {FLAGS.crops} crop(s) of {size}x{size}"
        + (f" after resizing the shorter side to {FLAGS.resize}" if FLAGS.resize else "")
        + f", preprocess {FLAGS.preprocessing}, {channels} channel(s). A model trained by "
        "recipes.train has its own transform: evaluate it with --run=MODEL_DIR."
    )
    dataset, skipped = _load_dataset(channels, int(models[0].output_shape[-1]))
    _warn_full_image_crops(dataset, size)
    start = time.time()
    result = evaluation.evaluate(
        models, dataset, crops=FLAGS.crops, top_k=ks, preprocess=_preprocess(), size=FLAGS.size,
        resize=FLAGS.resize, scales=scales, batch_size=FLAGS.batch_size,
        max_images=FLAGS.max_images,
    )  # fmt: skip
    if result["crops"] == "144" and scales is None:
        scales = evaluation.default_scales(size)
    report = dict(result)
    report.update(
        model_names=names, dataset=FLAGS.dataset, split=FLAGS.split, data_dir=FLAGS.data_dir,
        size=size, resize=FLAGS.resize, scales=list(scales) if scales else None,
        preprocess=FLAGS.preprocessing, top_k=list(ks), transform=transform, fold=FLAGS.fold,
        seconds=round(time.time() - start, 3), **skipped,
    )  # fmt: skip
    return result, ks, report


def _warn_full_image_crops(dataset, size):
    """10 crops of an image no larger than the crop are 2 views repeated 5 times: say so."""
    if FLAGS.crops != "10" or not isinstance(dataset, tuple):
        return
    side = FLAGS.resize or min(int(dataset[0].shape[1]), int(dataset[0].shape[2]))
    if side <= size:
        print(
            f"warning: --crops=10 with crop size {size} on images of shorter side {side}: every "
            "crop is the whole image (10 crops = the image and its mirror, 5 times each).",
            file=sys.stderr,
        )


def _old_spelling():
    """``--preprocess`` (before export's and predict's ``--preprocessing``) still works."""
    if not FLAGS["preprocess"].present:
        return
    print("warning: --preprocess is deprecated: use --preprocessing", file=sys.stderr)
    if FLAGS["preprocessing"].present and FLAGS.preprocessing != FLAGS.preprocess:
        _fail(
            f"--preprocess={FLAGS.preprocess} contradicts --preprocessing={FLAGS.preprocessing} "
            "(the same flag, spelled twice): pass --preprocessing only."
        )
    FLAGS.preprocessing = FLAGS.preprocess


@cli_errors
def main(argv):
    if len(argv) > 1:
        _fail(f"Unexpected arguments: {argv[1:]}")
    try:
        scales = tuple(int(s) for s in FLAGS.scales) if FLAGS.scales else None
    except ValueError:
        _fail(f"--scales takes integers. Received: --scales={','.join(FLAGS.scales)}")
    _old_spelling()
    # Bad flag values reach the library's checks; their ValueError is a usage error.
    if FLAGS.output:
        check_output_file(FLAGS.output, "output")
    if FLAGS.run:
        result, ks, report = _evaluate_run()
    else:
        result, ks, report = _evaluate_models(scales)
    print(format_table(result, ks))
    if "run_test_accuracy" in report:
        same = report["run_test_accuracy"] == result["top1_accuracy"]
        print(
            f"the run reported test accuracy {report['run_test_accuracy']:.4f} on these "
            f"{result['images']} images: {'the same' if same else 'DIFFERENT'}"
        )
    if FLAGS.output:
        from keras_convnets import atomic

        atomic.write_json(FLAGS.output, report, sort_keys=True, make_folder=True)
        print(f"wrote {FLAGS.output}")
    return 0


def run(argv=None):
    """Runs the command line; ``argv``: the whole command, program name first (default sys.argv)."""
    run_absl(main, sys.modules[__name__], argv)


if __name__ == "__main__":
    run()

r"""Evaluates a model or an ensemble as the papers did: centre crop, 10 crops or 144 crops.

Examples::

    # A .keras file (repeat --model_file for an ensemble) on Fashion-MNIST:
    python -m recipes.evaluate --model_file run/model.keras --dataset fashion_mnist \
        --crops 10 --resize 32 --output run/eval.json

    # A registry model with a weights file, on an image folder (one subfolder per class):
    python -m recipes.evaluate --model resnet50 --weights w.weights.h5 \
        --dataset /data/imagenet/val --crops 144 --preprocess caffe

Prints a table with top-1/top-5 accuracy and error, and writes the same
figures, with how they were measured, to ``--output`` as JSON (atomically).
Softmax probabilities are averaged over crops and over models
(:func:`keras_convnets.evaluation.evaluate`).
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from absl import app, flags  # noqa: E402

from keras_convnets._cli import check_output_file, cli_errors  # noqa: E402

# Names this recipe reads itself; every name of keras_convnets.data.DATASETS works too.
LOCAL_DATASETS = ("fashion_mnist_idx", "fashion_mnist_sample")
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".gif")
PREPROCESS_CHOICES = ("none", "rescale", "caffe", "tf", "torch")

FLAGS = flags.FLAGS
flags.DEFINE_string("model", None, "Registry name (see `python -m keras_convnets list`).")
flags.DEFINE_string("weights", None, "Weights file for --model (.weights.h5).")
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
flags.DEFINE_list("top_k", ["1", "5"], "The k's of top-k accuracy.")
flags.DEFINE_enum(
    "preprocess",
    "none",
    list(PREPROCESS_CHOICES),
    "Applied to the crops: none, rescale (x/255) or a keras.applications mode.",
)
flags.DEFINE_integer("batch_size", 64, "Crops per forward pass.")
flags.DEFINE_integer("max_images", None, "Evaluate the first N images only.")
flags.DEFINE_string("output", None, "Path of the JSON report (written atomically).")


def _fail(message):
    # The message alone (exit status 1): absl's UsageError would bury it under the whole help.
    raise SystemExit(f"error: {message}")


def _load_models():
    import keras_convnets
    from keras_convnets import registry

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


def _image_folder(path, channels):
    """Images under ``path/<class>/<image>``; labels are the sorted class names' indices."""
    classes = sorted(d for d in os.listdir(path) if os.path.isdir(os.path.join(path, d)))
    files, labels = [], []
    for index, name in enumerate(classes):
        folder = os.path.join(path, name)
        for file in sorted(os.listdir(folder)):
            if file.lower().endswith(IMAGE_SUFFIXES):
                files.append(os.path.join(folder, file))
                labels.append(index)
    if not files:
        _fail(
            f"--dataset {path!r} has no images: expected one subfolder per class holding "
            f"{', '.join(IMAGE_SUFFIXES)} files."
        )
    return _files_dataset(files, labels, channels)


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


def _load_dataset(channels):
    """Arrays ``(images, labels)`` or a ``tf.data`` pipeline, matched to the model's channels."""
    from keras_convnets import data

    name = FLAGS.dataset
    if name == "fashion_mnist_idx" or (name == "fashion_mnist" and name not in _named_datasets()):
        source = data.load_idx_dataset(FLAGS.data_dir or data.FASHION_MNIST_DIR, _idx_split())
    elif name == "fashion_mnist_sample":
        from keras_convnets.sample_data import load_fashion_mnist_sample

        source = load_fashion_mnist_sample(_idx_split())
    elif name in _named_datasets():
        split = data.load_split(
            name, FLAGS.split, data_dir=FLAGS.data_dir, max_examples=FLAGS.max_images
        )
        source = _from_split(split, channels)
        if not isinstance(source, tuple):
            return source
    elif any("-idx" in f for f in os.listdir(name)):
        source = data.load_idx_dataset(name, _idx_split())
    else:
        return _image_folder(name, channels)
    images, labels = source
    if FLAGS.max_images:
        images, labels = images[: FLAGS.max_images], labels[: FLAGS.max_images]
    if images.shape[-1] == 1 and channels == 3:
        # Grayscale datasets on RGB models: the same image in the 3 channels.
        images = images.repeat(3, axis=-1)
    elif images.shape[-1] != channels:
        _fail(f"--dataset images have {images.shape[-1]} channels, the model takes {channels}.")
    return images, labels


def _preprocess():
    name = FLAGS.preprocess
    if name == "none":
        return None
    if name == "rescale":
        return lambda x: x / 255.0
    return name


def _write_json_atomically(report, path):
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".evaluate-", suffix=".json.tmp", dir=directory)
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(report, f, indent=2, sort_keys=True)
            f.write("\n")
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


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


@cli_errors
def main(argv):
    if len(argv) > 1:
        _fail(f"Unexpected arguments: {argv[1:]}")
    from keras_convnets import evaluation

    try:
        ks = tuple(int(k) for k in FLAGS.top_k)
        scales = tuple(int(s) for s in FLAGS.scales) if FLAGS.scales else None
    except ValueError:
        _fail(f"--top_k and --scales take integers. Received: {FLAGS.top_k}, {FLAGS.scales}")
    name = FLAGS.dataset
    known = tuple(dict.fromkeys(("fashion_mnist", *_named_datasets(), *LOCAL_DATASETS)))
    if name not in known and not os.path.isdir(name):
        _fail(
            f"--dataset must be one of {', '.join(known)} or an existing folder. "
            f"Received: --dataset={name!r}"
        )
    try:
        # Bad flag values reach the library's checks; they are usage errors.
        if FLAGS.output:
            check_output_file(FLAGS.output, "output")
        models, names = _load_models()
        channels = int(models[0].input_shape[-1])
        dataset = _load_dataset(channels)
        start = time.time()
        result = evaluation.evaluate(
            models,
            dataset,
            crops=FLAGS.crops,
            top_k=ks,
            preprocess=_preprocess(),
            size=FLAGS.size,
            resize=FLAGS.resize,
            scales=scales,
            batch_size=FLAGS.batch_size,
            max_images=FLAGS.max_images,
        )
    except ValueError as e:
        _fail(str(e))
    seconds = time.time() - start
    print(format_table(result, ks))
    if FLAGS.output:
        size = FLAGS.size or int(models[0].input_shape[1])
        if result["crops"] == "144" and scales is None:
            scales = evaluation.default_scales(size)
        report = dict(result)
        report.update(
            model_names=names,
            dataset=FLAGS.dataset,
            split=FLAGS.split,
            data_dir=FLAGS.data_dir,
            size=size,
            resize=FLAGS.resize,
            scales=list(scales) if scales else None,
            preprocess=FLAGS.preprocess,
            top_k=list(ks),
            seconds=round(seconds, 3),
        )
        _write_json_atomically(report, FLAGS.output)
        print(f"wrote {FLAGS.output}")
    return 0


if __name__ == "__main__":
    app.run(main)

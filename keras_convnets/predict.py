"""Classifying photos with what one has: a training run, a registry model or an exported file.

:class:`Classifier` holds a model, the input transform it was trained or
exported with and its class names; :meth:`Classifier.predict` takes image
files (JPEG, PNG, BMP, GIF of any size, grey, RGB or RGBA) or decoded uint8
arrays and returns the top-k classes of each. ``keras-convnets predict`` is
its command line.

* :meth:`Classifier.from_run`: a finished ``recipes.train`` run directory: its
  ``model.keras``, its evaluation transform (pipeline, normalisation, mean
  image) and its ``labels.txt``, exactly what ``evaluate --run`` measures;
* :meth:`Classifier.from_model`: a registry name with a weights file (or
  ``"imagenet"``): the registry's normalisation after a bilinear resize to the
  model's input (the transform ``export`` embeds), ImageNet class names for
  1000-class models;
* :meth:`Classifier.from_file`: a ``.keras`` file (inside a run directory: the
  run's transform), a ``.tflite`` file (the LiteRT interpreter; raw-pixel files
  get the images resized to their input as a phone app would, normalised
  files the transform of their ``<stem>.json``) or a SavedModel directory
  (its ``serving_default`` takes the pixels as they are).

Example:
    >>> import numpy as np, keras_convnets
    >>> from keras_convnets.predict import Classifier
    >>> model = keras_convnets.ResNet20(classes=3)
    >>> clf = Classifier.from_keras(model, class_names=["a", "b", "c"], preprocessing=None)
    >>> (prediction,) = clf.predict([np.zeros((40, 30, 3), "uint8")], top_k=2)
    >>> prediction.image, len(prediction.top), prediction.top[0].label in ("a", "b", "c")
    ('image 0', 2, True)
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys

import numpy as np

from keras_convnets.data.datasets import IMAGE_EXTENSIONS, is_image_name

KERAS_BATCH = 32  # images per forward pass of a Keras model


@dataclasses.dataclass(frozen=True)
class Guess:
    """One class of a prediction: its index, name and probability."""

    index: int
    label: str
    probability: float


@dataclasses.dataclass(frozen=True)
class Prediction:
    """The top-k classes of one image, most probable first."""

    image: str  # the file, or "image <i>" for an array
    top: tuple

    def to_json(self) -> dict:
        return {
            "image": self.image,
            "top_k": [dataclasses.asdict(g) for g in self.top],
        }

    def __str__(self) -> str:
        guesses = ", ".join(f"{g.label} {g.probability:.3f}" for g in self.top)
        return f"{self.image}: {guesses}"


def read_image(path) -> np.ndarray:
    """The pixels of an image file, uint8 ``[H, W, 3]`` (grey repeated, alpha dropped).

    Raises ``ValueError`` naming the file when it is missing or not a readable image.
    """
    import tensorflow as tf

    path = os.fspath(path)
    if not os.path.isfile(path):
        raise ValueError(f"Image {path!r} does not exist (or is not a file).")
    try:
        raw = tf.io.read_file(path)
        image = tf.io.decode_image(raw, channels=3, expand_animations=False)
    except (tf.errors.OpError, ValueError) as err:
        first = str(getattr(err, "message", err)).strip().splitlines()[0]
        raise ValueError(f"{path!r} is not a readable image: {first}") from None
    return np.asarray(image, np.uint8)


def image_files(paths) -> list:
    """Files as given, and the images (by extension) under folders, sorted; hidden ones left out.

    Raises ``ValueError`` naming a path that does not exist or a folder without images.
    """
    found = []
    for path in paths:
        path = os.fspath(path)
        if os.path.isfile(path):
            found.append(path)
            continue
        if not os.path.isdir(path):
            raise ValueError(f"Image {path!r} (an `images` argument) does not exist.")
        inside = []
        for root, dirs, files in os.walk(path):
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
            inside.extend(os.path.join(root, f) for f in sorted(files) if is_image_name(f))
        if not inside:
            raise ValueError(
                f"Folder {path!r} holds no images ({', '.join(IMAGE_EXTENSIONS)}), "
                "hidden files and folders left out."
            )
        found.extend(inside)
    return found


class Classifier:
    """A model, its input transform and class names: ``predict(images) -> [Prediction]``.

    Build one with :meth:`from_run`, :meth:`from_model`, :meth:`from_file` or
    :meth:`from_keras`; ``source`` and ``transform`` say what it uses.
    """

    def __init__(self, classify, class_names, *, source: str, transform: dict, batch: int = 1):
        self._classify = classify  # list of uint8 [H, W, 3] images -> probabilities [N, classes]
        self.class_names = [str(n) for n in class_names]
        self.source = source
        self.transform = transform
        self.batch = batch

    @property
    def classes(self) -> int:
        return len(self.class_names)

    # ------------------------------------------------------------------ constructors
    @classmethod
    def from_keras(cls, model, *, class_names=None, preprocessing=None, preprocessor=None):
        """A Keras model with ``preprocessor`` (a :class:`~keras_convnets.deploy.preprocessing.
        Preprocessor`) or, without one, a bilinear resize and ``preprocessing`` (a mode or None).
        """
        from keras_convnets.deploy.preprocessing import Preprocessor
        from keras_convnets.models import heads

        model = heads.inference_model(model)
        shape = tuple(int(d) for d in model.input_shape[1:])
        if preprocessor is None and preprocessing is None:
            preprocessor = Preprocessor(shape, pipeline="none")  # resize only, pixels in [0, 255]
        elif preprocessor is None:
            preprocessor = Preprocessor(shape, mode=preprocessing)
        classes = int(model.output_shape[-1])
        names = _check_names(class_names, classes)

        def classify(images):
            x = np.concatenate([preprocessor.numpy(image[None]) for image in images])
            return np.asarray(model(x, training=False))

        transform = preprocessor.to_json()
        transform["input_shape"] = list(shape)
        return cls(classify, names, source=f"keras model {model.name!r}", transform=transform,
                   batch=KERAS_BATCH)  # fmt: skip

    @classmethod
    def from_run(cls, directory):
        """A finished training run: its model, evaluation transform and labels."""
        from keras_convnets import runs as run_lib
        from keras_convnets.deploy.preprocessing import Preprocessor

        run = run_lib.load_run(directory)
        preprocessor = Preprocessor(
            tuple(run.input_shape),
            mode=run.preprocessing_mode,
            pipeline=run.pipeline,
            mean_image=run.mean(),
        )
        model = run.load_model()
        clf = cls.from_keras(model, class_names=run.class_names, preprocessor=preprocessor)
        clf.source = f"run {run.directory}"
        return clf

    @classmethod
    def from_model(cls, name, *, weights=None, **build_kwargs):
        """A registry model (``weights``: a file or ``"imagenet"``), its registry normalisation."""
        from keras_convnets.models import heads, registry

        info = registry.model_info(name)
        if weights is None:
            print(f"warning: {name} without weights: random weights", file=sys.stderr)
        model = heads.inference_model(info.build(weights=weights, **build_kwargs))
        names = _default_names(int(model.output_shape[-1]))
        clf = cls.from_keras(model, class_names=names, preprocessing=info.preprocessing)
        clf.source = f"{name} (weights {weights})"
        return clf

    @classmethod
    def from_file(cls, path, *, preprocessing="registry"):
        """A ``.keras`` file, a ``.tflite`` file or a SavedModel directory."""
        path = os.fspath(path)
        if os.path.isdir(path):
            if os.path.isfile(os.path.join(path, "saved_model.pb")):
                return _from_savedmodel(cls, path)
            raise ValueError(
                f"`file` {path!r} is a folder without saved_model.pb: pass a .keras or .tflite "
                "file, a SavedModel folder, or a run folder with --run."
            )
        if not os.path.isfile(path):
            raise ValueError(f"`file` {path!r} does not exist.")
        if path.endswith(".tflite"):
            return _from_tflite(cls, path)
        if path.endswith(".keras"):
            return _from_keras_file(cls, path, preprocessing)
        raise ValueError(
            f"`file` must be a .keras or .tflite file or a SavedModel folder. Received: {path!r}"
        )

    # ------------------------------------------------------------------ use
    def probabilities(self, images) -> np.ndarray:
        """Probabilities ``[N, classes]`` of uint8 images ``[H, W, C]`` (any sizes)."""
        out = []
        for start in range(0, len(images), self.batch):
            out.append(np.asarray(self._classify(images[start : start + self.batch])))
        return np.concatenate(out) if out else np.zeros((0, self.classes), np.float32)

    def predict(self, images, top_k: int = 5, *, on_error=None, progress=None) -> list:
        """The top-``top_k`` classes of each image (file paths or uint8 arrays).

        A file that cannot be read raises ``ValueError``, or with ``on_error``
        (``fn(path, message)``) is reported there and left out. ``progress``
        (``fn(done, total)``) is called after each batch.
        """
        if isinstance(top_k, bool) or not isinstance(top_k, int) or not 1 <= top_k:
            raise ValueError(f"`top_k` must be an integer >= 1. Received: top_k={top_k!r}")
        top_k = min(top_k, self.classes)
        results = []
        for start in range(0, len(images), self.batch):
            names, pixels = [], []
            for i, item in enumerate(images[start : start + self.batch], start=start):
                if isinstance(item, (str, os.PathLike)):
                    try:
                        pixels.append(read_image(item))
                    except ValueError as err:
                        if on_error is None:
                            raise
                        on_error(os.fspath(item), str(err))
                        continue
                    names.append(os.fspath(item))
                else:
                    pixels.append(_as_uint8_image(item, i))
                    names.append(f"image {i}")
            if pixels:
                probs = np.asarray(self._classify(pixels))
                results.extend(self._top(name, p, top_k) for name, p in zip(names, probs))
            if progress is not None:
                progress(min(start + self.batch, len(images)), len(images))
        return results

    def _top(self, name, probs, k) -> Prediction:
        order = np.argsort(-probs, kind="stable")[:k]
        return Prediction(
            name, tuple(Guess(int(i), self.class_names[i], float(probs[i])) for i in order)
        )


def predict(images, *, run=None, model=None, weights=None, file=None, top_k=5) -> list:
    """``Classifier.from_run(run)`` / ``from_model(model, weights=...)`` / ``from_file(file)``,
    then its ``predict(images, top_k)``: one of ``run``, ``model`` or ``file``."""
    given = [k for k, v in (("run", run), ("model", model), ("file", file)) if v is not None]
    if len(given) != 1:
        raise ValueError(
            "Pass exactly one of `run` (a training run folder), `model` (a registry name, with "
            f"`weights`) or `file` (.keras, .tflite, SavedModel). Received: {given or 'none'}"
        )
    if run is not None:
        clf = Classifier.from_run(run)
    elif model is not None:
        clf = Classifier.from_model(model, weights=weights)
    else:
        clf = Classifier.from_file(file)
    return clf.predict(images, top_k)


# ---------------------------------------------------------------------- helpers
def _as_uint8_image(image, i) -> np.ndarray:
    image = np.asarray(image)
    if image.ndim == 2:
        image = image[..., None]
    if image.ndim != 3 or image.shape[-1] not in (1, 3, 4) or image.dtype != np.uint8:
        raise ValueError(
            f"Images must be file paths or uint8 arrays [H, W, 1|3|4]. Received: image {i} of "
            f"shape {image.shape} and dtype {image.dtype}"
        )
    if image.shape[-1] == 4:
        image = image[..., :3]
    if image.shape[-1] == 1:
        image = np.repeat(image, 3, axis=-1)
    return image


def _check_names(names, classes) -> list:
    if names is None:
        return [str(i) for i in range(classes)]
    names = [str(n) for n in names]
    if len(names) != classes:
        raise ValueError(
            f"`class_names` must give one name per class: the model has {classes} classes. "
            f"Received {len(names)} names."
        )
    return names


def _default_names(classes) -> list:
    """ImageNet's names for 1000 classes (keras.applications' index file), else the indices."""
    if classes != 1000:
        return [str(i) for i in range(classes)]
    from keras_convnets.data import imagenet

    try:
        index = imagenet._load_class_index()
    except Exception as err:  # offline: the indices, said once
        print(
            "warning: ImageNet class names need imagenet_class_index.json "
            f"({imagenet.CLASS_INDEX_URL}), which could not be fetched "
            f"({str(err).splitlines()[0][:120]}); printing class indices. Offline, place the "
            "file in ~/.keras/datasets/.",
            file=sys.stderr,
        )
        return [str(i) for i in range(classes)]
    return [index[str(i)][1] for i in range(classes)]


def _sidecar(path) -> dict:
    """The export's ``<stem>.json`` beside ``path``, or {}."""
    stem = os.path.splitext(path.rstrip("/"))[0]
    meta_path = stem + ".json"
    if not os.path.isfile(meta_path):
        return {}
    with open(meta_path, encoding="utf-8") as f:
        meta = json.load(f)
    meta["_dir"] = os.path.dirname(os.path.abspath(meta_path))
    return meta


def _sidecar_labels(meta, classes) -> list | None:
    name = meta.get("labels_file")
    if not name:
        return None
    path = os.path.join(meta["_dir"], name)
    if not os.path.isfile(path):
        return None
    with open(path, encoding="utf-8") as f:
        labels = [line.rstrip("\n") for line in f if line.strip()]
    return labels if len(labels) == classes else None


def _from_keras_file(cls, path, preprocessing):
    from keras_convnets import runs as run_lib
    from keras_convnets.models import _common, registry
    from keras_convnets.models.saving import load_model

    directory = os.path.dirname(os.path.abspath(path))
    if run_lib.is_run_dir(directory) and os.path.basename(path) == run_lib.MODEL_FILE:
        return cls.from_run(directory)
    model = load_model(path, compile=False)
    spec = _common.build_spec(model)
    if preprocessing == "registry":
        if spec is None or spec[0] not in registry.list_models():
            raise ValueError(
                f"{path!r} is not a registry model, so its normalisation is unknown: pass "
                "`preprocessing` (caffe, tf, torch or none)."
            )
        preprocessing = registry.model_info(spec[0]).preprocessing
    clf = cls.from_keras(
        model, class_names=_default_names(int(model.output_shape[-1])),
        preprocessing=None if preprocessing == "none" else preprocessing,
    )  # fmt: skip
    clf.source = f"keras file {path}"
    return clf


def _from_tflite(cls, path):
    from keras_convnets.deploy import metadata, tflite
    from keras_convnets.deploy.preprocessing import Preprocessor, RawInput, fit_raw

    with open(path, "rb") as f:
        content = f.read()
    try:
        runner = tflite.TFLiteRunner(content)
    except ValueError as err:
        raise ValueError(f"{path!r} is not a readable TFLite model: {err}") from None
    shape = tuple(int(d) for d in runner.input["shape"][1:])
    classes = int(runner.output["shape"][-1])
    meta = _sidecar(path)
    names = _sidecar_labels(meta, classes)
    if names is None:
        files = metadata.associated_files(content)
        text = next((v for k, v in files.items() if k.endswith(".txt")), None)
        lines = [s for s in text.decode("utf-8").splitlines() if s.strip()] if text else []
        names = lines if len(lines) == classes else [str(i) for i in range(classes)]
    if runner.raw:
        raw = RawInput(shape[0], shape[1], shape[2])

        def prepare(image):
            return fit_raw(image[None], raw)

        transform = {"input": raw.to_json(), "client": "resize (bilinear) and grey/RGB as needed"}
    else:
        inp = meta.get("input_normalization")
        if inp is None:
            raise ValueError(
                f"{path!r} takes normalised floats and its {os.path.splitext(path)[0]}.json "
                "(written by export) is missing: its input transform is unknown."
            )
        mean = None
        if inp.get("mean_image_file"):
            mean = np.load(os.path.join(meta["_dir"], inp["mean_image_file"]))
        preprocessor = Preprocessor(
            shape, mode=inp.get("mode"), pipeline=inp.get("pipeline"), mean_image=mean
        )

        def prepare(image):
            return preprocessor.numpy(image[None])

        transform = preprocessor.to_json()

    def classify(images):
        return runner.predict(np.concatenate([prepare(image) for image in images]))

    return cls(classify, names, source=f"tflite file {path}", transform=transform)


def _from_savedmodel(cls, path):
    import tensorflow as tf

    loaded = tf.saved_model.load(path)
    serve = loaded.signatures.get("serving_default")
    if serve is None:
        raise ValueError(f"SavedModel {path!r} has no serving_default signature.")
    (input_name,) = serve.structured_input_signature[1].keys()
    outputs = serve.structured_outputs
    if "probabilities" not in outputs:
        raise ValueError(
            f"SavedModel {path!r} has no 'probabilities' output (it was not written by export)."
        )
    classes = int(outputs["probabilities"].shape[-1])
    names = _sidecar_labels(_sidecar(path), classes)
    if names is None:
        result = serve(**{input_name: tf.zeros((1, 8, 8, 3), tf.uint8)})
        if "top_k_labels" in result and result["top_k_labels"].shape[-1] == classes:
            order = np.asarray(result["top_k_classes"][0])
            labels = [s.decode("utf-8") for s in np.asarray(result["top_k_labels"][0])]
            names = [labels[list(order).index(i)] for i in range(classes)]
        else:
            names = [str(i) for i in range(classes)]
    channels = int(serve.structured_input_signature[1][input_name].shape[-1])

    def classify(images):
        out = []
        for image in images:
            x = image if channels == 3 else np.asarray(tf.image.rgb_to_grayscale(image))
            out.append(np.asarray(serve(**{input_name: x[None]})["probabilities"]))
        return np.concatenate(out)

    transform = {"in_graph": True, "input": f"uint8 [1, H, W, {channels}] as read"}
    return cls(classify, names, source=f"savedmodel {path}", transform=transform)

"""One export, in named stages: validate, resolve, load data, convert, parity, write.

:func:`export_model` is what ``python -m export`` calls; it packs its keyword
arguments into an :class:`ExportRequest` and runs :func:`export`:

1. :func:`validate` checks every argument (format, quantization mode and
   quantizer, input contract and ``io_type``, representative data for int8/QAT,
   labels, preprocessing, output path) and raises ``ValueError`` *before* any
   work;
2. :func:`resolve_subject` builds or loads the model (the weights file checked
   against it) and fixes its input contract (:class:`Subject`);
3. :func:`load_data` reads the evaluation, representative and QAT images
   (:class:`ExportData`) and the Keras model's reference probabilities;
4. :func:`convert` writes the SavedModel, or converts to TFLite (TensorFlow's
   converter, QAT, or the AI Edge Quantizer) and puts the metadata inside the
   file (:mod:`keras_convnets.deploy.metadata`), under a temporary name
   (:class:`keras_convnets.atomic.Staging`);
5. :func:`check_parity` runs the export on the evaluation images as a client
   would (raw pixels for a raw-pixel file) and compares it with Keras;
6. :func:`write_sidecars` writes ``<stem>.labels.txt``, ``<stem>.json`` (signature,
   tensor names, shapes, dtypes, quantization, input contract, ops) and
   ``<stem>.parity.json``; only when everything succeeded are the files renamed
   into place, as one unit: a journal makes an interrupted set of renames finish
   at the next export or :func:`verify_export`, and ``<stem>.manifest.json``
   (SHA-256 of each file, renamed last) lets a reader check the set. A failed
   conversion leaves no file and an older export intact.

``python -m export --run=DIR`` takes the model, input transform, labels and
data source of a finished training run (:func:`run_export_arguments`).
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
from typing import Any

import numpy as np

from keras_convnets import atomic
from keras_convnets import runs as run_lib
from keras_convnets.deploy import datasets, parity, preprocessing, tflite

FORMATS = ("savedmodel", "tflite")


@dataclasses.dataclass
class ExportRequest:
    """Everything one export is asked to do (the flags of ``python -m export``).

    ``model``: a registry name (with ``weights``), a ``.keras`` file or a Keras
    model. ``output``: the ``.tflite`` file, or the SavedModel folder. Images
    (``representative_images``, ``eval_images``, ``train_images``) are uint8
    ``[N, h, w, c]``; ``dataset`` is any source training takes (a
    ``keras_convnets.data`` name, an image or IDX folder, or a
    :class:`keras_convnets.deploy.datasets.DataSource`; ``"fashion_mnist"``: the
    local IDX files). ``preprocessing_mode``: the normalisation the weights were
    trained with (default: the registry's). ``pipeline`` (``"cifar"``, ...): use
    instead the evaluation transform of that training pipeline; ``"cifar"``
    needs the training set's ``mean_image`` (array or ``.npy``; default:
    ``mean_image.npy`` beside the weights).

    TFLite input contract: ``input="raw"`` (uint8 pixels ``[1, *raw_size,
    raw_channels]``, the whole transform in the graph; default for int8 and QAT)
    or ``"normalized"`` (the model's float input; default for float files).
    ``raw_size`` defaults to the size of the export's images (28x28 for
    Fashion-MNIST), else (none given, or of different sizes: a folder of photos)
    the model's; ``raw_channels`` (3: RGB, 1: grey) to the model's channels.
    Images of different sizes are brought to the raw size (normalised input:
    the model's) as training brings them to the model's input
    (:func:`keras_convnets.data.split_arrays`). ``io_type``:
    see :func:`keras_convnets.deploy.tflite.check_io`. ``quantizer``: ``"tf"``
    (TensorFlow's converter) or ``"ai_edge"`` (AI Edge Quantizer, ``recipe``
    from :data:`keras_convnets.deploy.ai_edge.RECIPES`). ``model_name``,
    ``description``, ``model_version``, ``author``, ``license``: the metadata
    inside a TFLite file: any non-empty text without control characters (the
    description may hold line breaks and tabs).

    ``top_k`` (SavedModel outputs): default ``min(5, classes)``. ``fold``: the
    SavedModel serves :func:`keras_convnets.optimize_for_inference` of the model
    (BN folded); the report's ``fold_max_abs_diff_prob`` is its max |dprob|
    against the unfolded Keras model (``None`` when not folded; TFLite folds BN
    itself).
    """

    model: Any
    output: Any
    format: str = "tflite"
    quantize: str = "none"
    io_type: str | None = None
    input: str | None = None
    raw_size: tuple | None = None
    raw_channels: int | None = None
    quantizer: str = "tf"
    recipe: str | None = None
    weights: Any = None
    input_shape: tuple | None = None
    classes: int | None = None
    build_kwargs: dict | None = None
    arch: str | None = None
    preprocessing_mode: str | None = None
    pipeline: str | None = None
    mean_image: Any = None
    dataset: Any = None  # str, folder or datasets.DataSource
    labels: Any = None
    representative_images: Any = None
    representative_count: int = 200
    eval_images: Any = None
    eval_labels: Any = None
    eval_count: int = 500
    train_images: Any = None
    train_labels: Any = None
    qat_steps: int = 100
    qat_batch_size: int = 32
    qat_learning_rate: float = 1e-4
    top_k: int | None = None
    latency_runs: int = 20
    model_name: str | None = None
    description: str | None = None
    model_version: str = "1"
    author: str = "unspecified"
    license: str = "unspecified"
    fold: bool = True
    verbose: bool = True

    def __post_init__(self):
        self.output = os.path.abspath(os.fspath(self.output))

    @property
    def input_contract(self) -> str:
        """``raw`` or ``normalized``: the given one, else the default of the format and mode."""
        if self.input is not None:
            return self.input
        if self.format == "savedmodel" or self.quantize in ("int8", "qat"):
            return "raw"
        return "normalized"

    @property
    def stem(self) -> str:
        if self.format == "tflite":
            return self.output[: -len(".tflite")]
        return self.output.rstrip(os.sep)

    def log(self, msg):
        if self.verbose:
            print(msg, flush=True)


@dataclasses.dataclass
class Subject:
    """The resolved model and its input contract."""

    keras_model: Any  # the inference model (main output only)
    full_model: Any  # with auxiliary heads: what the tf_keras twin of QAT copies
    arch: str | None
    preprocessor: preprocessing.Preprocessor
    prep_source: str
    labels: list
    raw: preprocessing.RawInput | None  # None: normalised float input
    io_type: str
    top_k: int  # of the SavedModel's outputs

    @property
    def classes(self) -> int:
        return int(self.keras_model.output_shape[-1])

    @property
    def input_shape(self) -> tuple:
        return tuple(int(d) for d in self.keras_model.input_shape[1:])


@dataclasses.dataclass
class ExportData:
    """Evaluation images with the Keras reference, and the conversion's own images."""

    eval_images: np.ndarray  # uint8, as stored
    eval_labels: np.ndarray
    eval_source: str
    eval_x: np.ndarray  # the model's normalised input
    keras_probs: np.ndarray
    representative: np.ndarray | None  # normalised float, or raw uint8 for a raw-pixel file


@dataclasses.dataclass
class Artifact:
    """A converted export under its temporary name, and what it computed."""

    staged: str
    content: bytes | None = None  # TFLite bytes
    meta: dict = dataclasses.field(default_factory=dict)
    qat_model: Any = None
    served_model: Any = None  # SavedModel: the model it serves (BN folded unless fold=False)


# ----------------------------------------------------------------------------- helpers


def _read_labels(labels, classes):
    if labels is None:
        return None
    if isinstance(labels, (str, os.PathLike)):
        path = os.fspath(labels)
        if not os.path.isfile(path):
            raise ValueError(f"`labels` file {path!r} does not exist.")
        labels = run_lib.read_labels(path)
    labels = [str(s) for s in labels]
    if len(labels) != classes:
        raise ValueError(
            f"`labels` must give one name per class: the model has {classes} classes. "
            f"Received {len(labels)} labels."
        )
    return labels


def _short(value):
    return repr(value) if isinstance(value, (str, os.PathLike)) else f"<{type(value).__name__}>"


def _check_count(name, value, minimum=1):
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"`{name}` must be an integer >= {minimum}. Received: {name}={value!r}")


def resolve_model(model, *, weights=None, input_shape=None, classes=None, build_kwargs=None):
    """``(keras_model, registry_name_or_None)`` from a model, a ``.keras`` file or a name.

    A weights file is checked layer by layer against the model
    (:func:`keras_convnets.models.weights.load_weights_checked`) before it is loaded.
    """
    from keras_convnets.models import registry
    from keras_convnets.models import weights as weights_lib
    from keras_convnets.models.saving import load_model

    build_kwargs = dict(build_kwargs or {})
    if isinstance(model, (str, os.PathLike)) and os.fspath(model).endswith(".keras"):
        path = os.fspath(model)
        if not os.path.isfile(path):
            raise ValueError(f"`model` file {path!r} does not exist.")
        loaded = load_model(path, compile=False)
        if weights is not None:
            weights_lib.load_weights_checked(loaded, weights)
        return loaded, None
    if isinstance(model, str):
        info = registry.model_info(model)  # ValueError naming the registered models
        if input_shape is not None:
            build_kwargs["input_shape"] = tuple(input_shape)
        if classes is not None:
            build_kwargs["classes"] = classes
        if _builder_weights(weights):  # the same forms as the builders' `weights=`
            return info.build(weights=os.fspath(weights), **build_kwargs), info.name
        built = info.build(**build_kwargs)
        if weights is not None:
            weights_lib.load_weights_checked(built, weights)
        return built, info.name
    if hasattr(model, "layers") and hasattr(model, "outputs"):
        if weights is not None:
            weights_lib.load_weights_checked(model, weights)
        return model, None
    raise ValueError(
        "`model` must be a registry name, a `.keras` file or a Keras model. "
        f"Received: model={model!r}"
    )


def default_stem(name, fmt, quantize, quantizer="tf"):
    if fmt == "savedmodel":
        return f"{name}_savedmodel"
    return f"{name}_{quantize}" + ("_ai_edge" if quantizer == "ai_edge" else "")


# ----------------------------------------------------------------------------- 1. validate


def validate(r: ExportRequest) -> str:
    """Checks every argument before any work; returns the resolved ``io_type``."""
    io_type = _check_modes(r)
    _check_counts(r)
    _check_data_sources(r)
    _check_output(r)
    _check_preprocessing(r)
    _check_metadata(r)
    return io_type


# Free-text TFLite metadata: one-line fields, and the description (which may span lines).
METADATA_FIELDS = ("model_name", "model_version", "author", "license", "description")


def _check_metadata(r: ExportRequest):
    """Refuses an empty metadata value (it would be dropped or stored blank) and control
    characters (NUL cuts the string in C readers; a newline in a one-line field)."""
    for name in METADATA_FIELDS:
        value = getattr(r, name)
        if value is None or (name == "model_version" and isinstance(value, int)):
            continue
        if not isinstance(value, str) or not value.strip():
            raise ValueError(
                f"`{name}` must be a non-empty string of metadata text. Received: {name}={value!r}"
            )
        allowed = "\n\t" if name == "description" else ""
        if any(ord(ch) < 32 and ch not in allowed or ord(ch) == 127 for ch in value):
            where = "" if allowed else ", and no line break: it is a one-line field"
            raise ValueError(
                f"`{name}` must not contain control characters (NUL, escapes{where}). "
                f"Received: {name}={value!r}"
            )


def _check_modes(r: ExportRequest) -> str:
    if r.format not in FORMATS:
        raise ValueError(
            f"`format` must be one of {', '.join(FORMATS)}. Received: format={r.format!r}"
        )
    tflite.check_quantize(r.quantize, r.io_type or "float32")
    if r.format == "savedmodel":
        for name, value, default in (
            ("quantize", r.quantize, "none"),
            ("io_type", r.io_type, None),
            ("input", None if r.input == "raw" else r.input, None),
            ("raw_size", r.raw_size, None),
            ("quantizer", r.quantizer, "tf"),
        ):
            if value != default:
                raise ValueError(
                    f"`{name}` applies to TFLite only; a SavedModel takes uint8 images of any "
                    f"size and is float32. Received: format='savedmodel', {name}={value!r}"
                )
        return "float32"
    if r.quantizer == "ai_edge":
        from keras_convnets.deploy import ai_edge

        ai_edge.check_recipe(r.quantize, r.recipe)
    elif r.recipe is not None:
        raise ValueError(
            "`recipe` chooses an AI Edge Quantizer recipe: pass quantizer='ai_edge'. "
            f"Received: recipe={r.recipe!r}, quantizer={r.quantizer!r}"
        )
    io_type = tflite.check_io(r.quantize, r.io_type, input=r.input_contract, quantizer=r.quantizer)
    if r.input_contract == "raw":
        size = tuple(r.raw_size) if r.raw_size is not None else (1, 1)
        if len(size) != 2:
            raise ValueError(
                f"`raw_size` must be (height, width). Received: raw_size={r.raw_size!r}"
            )
        preprocessing.RawInput(*size, r.raw_channels or 3)  # validates
    else:
        for name in ("raw_size", "raw_channels"):
            if getattr(r, name) is not None:
                raise ValueError(
                    f"`{name}` sets the pixels of a raw-pixel file: pass input='raw'. "
                    f"Received: {name}={getattr(r, name)!r}, input='normalized'"
                )
    return io_type


def _check_counts(r: ExportRequest):
    r.dataset = datasets.check_dataset(r.dataset)  # every source training takes (DataSource)
    _check_count("representative_count", r.representative_count)
    _check_count("eval_count", r.eval_count)
    _check_count("latency_runs", r.latency_runs, 20)
    _check_count("qat_steps", r.qat_steps, 0)
    _check_count("qat_batch_size", r.qat_batch_size)
    if r.top_k is not None:
        _check_count("top_k", r.top_k)  # against the classes once the model is known
    lr = r.qat_learning_rate
    if isinstance(lr, bool) or not (isinstance(lr, (int, float)) and 0 < lr < np.inf):
        raise ValueError(
            f"`qat_learning_rate` must be finite and > 0. Received: qat_learning_rate={lr!r}"
        )


def _check_data_sources(r: ExportRequest):
    static = r.quantize == "int8"
    if static and r.dataset is None and r.representative_images is None:
        raise ValueError(
            "Full-integer int8 needs representative data: pass `dataset` or "
            "`representative_images`. Received neither."
        )
    if (
        r.quantize == "qat"
        and r.dataset is None
        and (r.train_images is None or r.train_labels is None)
    ):
        raise ValueError(
            "QAT fine-tunes on labelled images: pass `dataset` or `train_images` and "
            "`train_labels`. Received neither."
        )
    if (r.eval_images is None) != (r.eval_labels is None):
        raise ValueError("`eval_images` and `eval_labels` must be given together.")


def _check_output(r: ExportRequest):
    output = r.output
    if r.format == "tflite" and not output.endswith(".tflite"):
        raise ValueError(f"A TFLite `output` must end in '.tflite'. Received: output={output!r}")
    if os.path.exists(output) and (os.path.isdir(output) != (r.format == "savedmodel")):
        kind = "folder" if os.path.isdir(output) else "file"
        raise ValueError(
            f"`output` {output!r} exists and is a {kind}; "
            f"a {r.format} export would replace it with the other kind. Remove it first."
        )


def _check_preprocessing(r: ExportRequest):
    if r.preprocessing_mode is not None:
        preprocessing.normalization(r.preprocessing_mode)
    if r.mean_image is not None and r.pipeline != "cifar":
        raise ValueError(
            "`mean_image` is subtracted by pipeline='cifar' only. "
            f"Received: mean_image={_short(r.mean_image)}, pipeline={r.pipeline!r}"
        )
    if r.pipeline is None:
        return
    from keras_convnets import data

    if r.pipeline not in data.PIPELINES:
        raise ValueError(
            f"`pipeline` must be one of {', '.join(data.PIPELINES)} or None. "
            f"Received: pipeline={r.pipeline!r}"
        )
    if r.pipeline == "cifar" and r.mean_image is None and r.weights is not None:
        candidate = os.path.join(os.path.dirname(os.fspath(r.weights)), "mean_image.npy")
        r.mean_image = candidate if os.path.isfile(candidate) else None
    if r.pipeline == "cifar" and r.mean_image is None:
        raise ValueError(
            "pipeline='cifar' subtracts the training set's per-pixel mean: pass "
            "`mean_image` (array or .npy file). Received: none, and no mean_image.npy "
            "beside the weights."
        )
    if isinstance(r.mean_image, (str, os.PathLike)):
        if not os.path.isfile(r.mean_image):
            raise ValueError(f"`mean_image` file {os.fspath(r.mean_image)!r} does not exist.")
        r.mean_image = np.load(r.mean_image)


# ----------------------------------------------------------------------------- 2. resolve


def resolve_subject(r: ExportRequest, io_type: str) -> Subject:
    """Builds or loads the model and fixes its preprocessing, labels and input contract."""
    from keras_convnets.models import heads

    full_model, name = resolve_model(
        r.model,
        weights=r.weights,
        input_shape=r.input_shape,
        classes=r.classes,
        build_kwargs=r.build_kwargs,
    )
    arch = r.arch or name
    mode, source = _preprocessing_mode(r, arch or full_model.name)
    if source == "registry":
        _check_registry_normalization(full_model, arch or full_model.name, mode)
    keras_model = heads.inference_model(full_model)
    shape = tuple(int(d) for d in keras_model.input_shape[1:])
    classes = int(keras_model.output_shape[-1])
    top_k = check_top_k(r.top_k, classes)
    labels = r.labels
    if r.dataset is not None and labels is None:
        labels = datasets.labels_for(r.dataset)
    labels = _read_labels(labels, classes) or [str(i) for i in range(classes)]
    if r.quantize == "qat" and arch is None:
        from keras_convnets.models import _common

        if _common.build_spec(keras_model) is None:
            raise ValueError(
                "QAT rebuilds the model with tf_keras: pass `arch` (a registry name) for a "
                "model not built by keras_convnets in this process."
            )
    preprocessor = preprocessing.Preprocessor(
        shape, mode=mode, pipeline=r.pipeline, mean_image=r.mean_image
    )
    raw = None
    if r.format == "tflite" and r.input_contract == "raw":
        raw = preprocessing.RawInput(*_raw_size(r, shape), r.raw_channels or shape[-1])
    r.log(f"input transform ({source}): {json.dumps(preprocessor.to_json())}")
    return Subject(keras_model, full_model, arch, preprocessor, source, labels, raw, io_type, top_k)


def _preprocessing_mode(r: ExportRequest, key):
    from keras_convnets.models import registry

    if r.preprocessing_mode is not None:
        return r.preprocessing_mode, "argument (the normalisation used in training)"
    if r.pipeline in ("cifar", "none"):
        return None, f"training pipeline {r.pipeline!r}"
    if key not in registry.list_models():
        raise ValueError(
            f"`preprocessing_mode` is needed: {key!r} is not a registry name, so its "
            f"normalisation is unknown. Allowed: {', '.join(preprocessing.PREPROCESSING_MODES)}"
        )
    from keras_convnets.models import pretrained

    entry = pretrained.entry_for_model(r.weights, key)
    if entry is not None:
        return entry.preprocessing_mode, f"weights {entry.id}"
    return registry.model_info(key).preprocessing, "registry"


def _builder_weights(weights) -> bool:
    """Weights the builders fetch or convert themselves: "imagenet", torchvision/timm."""
    from keras_convnets.models import pretrained

    return weights == "imagenet" or pretrained.is_source(weights)


def _raw_size(r: ExportRequest, model_shape):
    """The raw pixels' size: given, else that of the export's images, else the model's.

    The evaluation images of a dataset are those :func:`load_data` reads: of one
    size, they keep it; of different sizes, they come at the model's.
    """
    if r.raw_size is not None:
        return tuple(int(d) for d in r.raw_size)
    if r.eval_images is not None:
        return tuple(int(d) for d in np.shape(r.eval_images)[1:3])
    if r.dataset is not None:
        images, _ = datasets.load_images(
            r.dataset, "test", count=r.eval_count, size=tuple(model_shape[:2])
        )
        return tuple(int(d) for d in images.shape[1:3])
    return model_shape[:2]


def _image_size(s: Subject) -> tuple:
    """The size images of different sizes are brought to: the raw pixels', else the model's."""
    return tuple(s.raw.shape[:2]) if s.raw is not None else tuple(s.input_shape[:2])


# ----------------------------------------------------------------------------- 3. data


def load_data(r: ExportRequest, s: Subject) -> ExportData:
    """Evaluation images (test split) with the Keras reference; representative images."""
    prep = s.preprocessor.numpy
    eval_images, eval_labels = r.eval_images, r.eval_labels
    if eval_images is None and r.dataset is not None:
        eval_images, eval_labels = datasets.load_images(
            r.dataset, "test", count=r.eval_count, size=_image_size(s), log=r.log
        )
    elif eval_images is None:
        # Without a labelled set, the parity of numbers still holds on noise images;
        # "accuracy" then measures agreement with the Keras model's own top-1.
        size = s.raw.shape if s.raw is not None else s.input_shape
        rng = np.random.default_rng(0)
        eval_images = rng.integers(0, 256, size=(min(r.eval_count, 64), *size)).astype(np.uint8)
    eval_x = prep(eval_images)
    keras_probs = parity.keras_probabilities(s.keras_model, eval_x)
    if eval_labels is None:
        eval_labels, source = keras_probs.argmax(-1), "random uint8 images; labels = Keras top-1"
    else:
        source = str(r.dataset) if r.dataset else "given images"
    representative = None
    if r.quantize == "int8":
        images = r.representative_images
        if images is None:
            images, _ = datasets.load_images(
                r.dataset, "train", count=r.representative_count, size=_image_size(s), log=r.log
            )
        images = images[: r.representative_count]
        representative = preprocessing.fit_raw(images, s.raw) if s.raw else prep(images)
    return ExportData(
        np.asarray(eval_images),
        np.asarray(eval_labels),
        source,
        eval_x,
        keras_probs,
        representative,
    )


def client_input(s: Subject, d: ExportData) -> np.ndarray:
    """What a client feeds the export: raw pixels fitted to the file, or normalised floats."""
    if s.raw is not None:
        return preprocessing.fit_raw(d.eval_images, s.raw)
    return d.eval_x


# ----------------------------------------------------------------------------- 4. convert


def convert(r: ExportRequest, s: Subject, d: ExportData, staging) -> Artifact:
    """Writes the export under its temporary name; returns what the later stages need."""
    art = Artifact(staged=staging.path(r.output, directory=(r.format == "savedmodel")))
    if r.format == "savedmodel":
        _write_savedmodel(r, s, art)
        return art
    if r.quantize == "qat":
        content = _convert_qat(r, s, art)
    elif r.quantizer == "ai_edge":
        content = _convert_ai_edge(r, s, d, art)
    else:
        r.log(f"converting {s.keras_model.name} to TFLite (quantize={r.quantize})")
        content = tflite.convert(
            s.keras_model,
            r.quantize,
            representative=d.representative,
            io_type=s.io_type,
            **_raw_kwargs(s),
        )
    art.content = _with_metadata(r, s, content)
    with open(art.staged, "wb") as f:
        f.write(art.content)
    if d.representative is not None:
        art.meta["representative"] = {
            "dataset": str(r.dataset) if r.dataset else "given images",
            "split": "train" if r.representative_images is None else None,
            "count": int(len(d.representative)),
        }
    return art


def _raw_kwargs(s: Subject) -> dict:
    if s.raw is None:
        return {}
    return {"preprocess": s.preprocessor.single, "raw_shape": s.raw.shape}


def _write_savedmodel(r: ExportRequest, s: Subject, art: Artifact):
    from keras_convnets.deploy import savedmodel

    art.served_model = s.keras_model
    if r.fold:
        from keras_convnets.models.inference import optimize_for_inference

        art.served_model = optimize_for_inference(s.keras_model)
    r.log(f"writing SavedModel {r.output} ({'BN folded' if r.fold else 'not folded'})")
    savedmodel.write_serving_savedmodel(
        art.served_model,
        art.staged,
        preprocessing=s.preprocessor,
        labels=s.labels,
        top_k=s.top_k,
        fold=False,  # folded above, once
    )


def _convert_ai_edge(r: ExportRequest, s: Subject, d: ExportData, art: Artifact) -> bytes:
    from keras_convnets.deploy import ai_edge

    recipe = ai_edge.check_recipe(r.quantize, r.recipe)
    r.log(f"converting {s.keras_model.name} to float TFLite, then AI Edge Quantizer {recipe}")
    float_content = tflite.convert(s.keras_model, "none", **_raw_kwargs(s))
    art.meta["quantizer"] = {"name": "ai_edge", "recipe": recipe, "version": _aeq_version()}
    return ai_edge.quantize(float_content, recipe, representative=d.representative)


def _convert_qat(r: ExportRequest, s: Subject, art: Artifact) -> bytes:
    from keras_convnets.deploy import qat
    from keras_convnets.models import _common

    images, labels = r.train_images, r.train_labels
    if images is None:
        count = max(r.representative_count, r.qat_steps * r.qat_batch_size)
        images, labels = datasets.load_images(
            r.dataset, "train", count=count, seed=1, size=_image_size(s)
        )
    x = s.preprocessor.numpy(images)
    r.log(
        f"QAT: tf_keras twin of {s.full_model.name}, {r.qat_steps} steps of batch "
        f"{r.qat_batch_size}"
    )
    build_kwargs = {}
    if _common.build_spec(s.full_model) is None:
        # Loaded from a file: the twin is rebuilt from the registry name and the
        # build arguments given (e.g. shortcut="B"), at the model's own shape.
        build_kwargs = dict(r.build_kwargs or {}, input_shape=s.input_shape, classes=s.classes)
    q = qat.quantize_model(
        s.full_model, arch=s.arch if build_kwargs else None, check_images=x[:8], **build_kwargs
    )
    loss = qat.fine_tune(
        q,
        x,
        labels,
        steps=r.qat_steps,
        batch_size=r.qat_batch_size,
        learning_rate=r.qat_learning_rate,
    )
    art.meta["qat"] = {
        "steps": r.qat_steps,
        "batch_size": r.qat_batch_size,
        "learning_rate": r.qat_learning_rate,
        "final_loss": loss,
        "train_images": int(len(x)),
    }
    art.qat_model = q
    r.log("QAT: converting")
    return qat.convert(q, io_type=s.io_type, **_raw_kwargs(s))


def _aeq_version():
    from importlib import metadata as importlib_metadata

    return importlib_metadata.version("ai-edge-quantizer")


def _with_metadata(r: ExportRequest, s: Subject, content: bytes) -> bytes:
    from keras_convnets.deploy import metadata

    return metadata.attach(content, tflite_metadata(r, s))


def tflite_metadata(r: ExportRequest, s: Subject):
    """The :class:`~keras_convnets.deploy.metadata.ClassifierMetadata` of a TFLite export."""
    from keras_convnets.deploy import metadata

    height, width, channels = s.input_shape
    name = r.model_name or s.arch or s.keras_model.name
    if s.raw is not None:
        image = (s.raw.color_space, s.raw.width, s.raw.height)
        what = (
            f"uint8 {s.raw.color_space} pixels {s.raw.height}x{s.raw.width} in [0, 255], as a "
            "camera or image decoder gives them; the whole input transform is in the graph"
        )
        tensor_in = metadata.TensorInfo("image", what, (0, 255), image=image)
    else:
        norm = s.preprocessor.mediapipe_normalization() if s.io_type == "float32" else None
        what = (
            f"normalised float input {height}x{width}x{channels}: "
            f"{json.dumps(s.preprocessor.to_json(), sort_keys=True)}"
        )
        color = "RGB" if channels == 3 else "GRAYSCALE"
        value_range = None
        if norm is not None:
            lo = [(0.0 - m) / sd for m, sd in zip(*norm)]
            hi = [(255.0 - m) / sd for m, sd in zip(*norm)]
            value_range = (min(lo), max(hi))
        tensor_in = metadata.TensorInfo(
            "image", what, value_range, image=(color, width, height), normalization=norm
        )
    tensor_out = metadata.TensorInfo(
        "probabilities",
        f"Probabilities of the {s.classes} classes (softmax), in the order of labels.txt.",
        (0.0, 1.0),
        labels_file="labels.txt",
    )
    description = r.description or (
        f"{name} image classifier, {s.classes} classes; {r.quantize} "
        f"({r.quantizer} quantizer); input: {tensor_in.description}."
    )
    return metadata.ClassifierMetadata(
        name=name,
        description=description,
        version=str(r.model_version),
        author=r.author,
        license=r.license,
        input=tensor_in,
        output=tensor_out,
        labels=list(s.labels),
    )


# ----------------------------------------------------------------------------- 5. parity


def check_parity(r: ExportRequest, s: Subject, d: ExportData, art: Artifact) -> dict:
    """Runs the export as a client would and compares it with the Keras model."""
    start = time.perf_counter()
    if r.format == "savedmodel":
        from keras_convnets.deploy import savedmodel

        # The client sends raw pixels: only the channels are repeated here.
        served = d.eval_images
        if served.shape[-1] != s.input_shape[-1]:
            served = np.repeat(served, s.input_shape[-1], axis=-1)
        export_probs = savedmodel.SavedModelRunner(art.staged).predict(served.astype(np.uint8))
        latency = None
        if r.fold:
            # The folded model against the unfolded one, on the same normalised input.
            folded_probs = parity.keras_probabilities(art.served_model, d.eval_x)
            fold_diff = float(np.abs(folded_probs - d.keras_probs).max())
            art.meta["fold_max_abs_diff_prob"] = fold_diff
    else:
        fed = client_input(s, d)
        export_probs = tflite.TFLiteRunner(art.content).predict(fed)
        latency = parity.tflite_latency(art.content, fed[:1], runs=r.latency_runs)
    report = {
        "artifact": r.output,
        "format": r.format,
        "quantize": r.quantize,
        "quantizer": r.quantizer if r.format == "tflite" else None,
        "input": s.raw.to_json() if s.raw else "normalized" if r.format == "tflite" else "raw",
        "io_type": s.io_type,
        "size_bytes": parity.path_size(art.staged),
        "eval_set": d.eval_source,
        "latency_ms": latency,
        "latency_note": (
            f"median of {r.latency_runs} invocations after 3 warm-up, XNNPACK, per thread count"
        )
        if latency
        else "not measured for SavedModel",
        "parity_seconds": round(time.perf_counter() - start, 2),
        **parity.compare(d.keras_probs, export_probs, d.eval_labels),
        "fold_max_abs_diff_prob": art.meta.get("fold_max_abs_diff_prob"),
    }
    if art.qat_model is not None:
        # The fine-tuned QAT model is what the converter translates: its
        # (fake-quantized) outputs are the reference of the conversion itself.
        qat_probs = parity.keras_probabilities(art.qat_model, d.eval_x)
        report["qat_conversion_max_abs_diff_prob"] = float(np.abs(qat_probs - export_probs).max())
        report["qat_keras_accuracy"] = float(100.0 * np.mean(qat_probs.argmax(-1) == d.eval_labels))
        art.meta["qat"]["conversion_max_abs_diff_prob"] = report["qat_conversion_max_abs_diff_prob"]
        art.meta["qat"]["keras_accuracy"] = report["qat_keras_accuracy"]
    return report


# ----------------------------------------------------------------------------- 6. write


def describe(r: ExportRequest, s: Subject, art: Artifact) -> dict:
    """The ``<stem>.json`` metadata: model, input contract, signature, ops."""
    meta = {
        "model": s.keras_model.name,
        "registry_name": s.arch,
        "format": r.format,
        "quantize": r.quantize,
        "classes": s.classes,
        "labels_file": os.path.basename(r.stem) + ".labels.txt",
        "input_normalization": {
            **s.preprocessor.to_json(),
            "source": s.prep_source,
            "size": list(s.input_shape[:2]),
            "channels": s.input_shape[-1],
            "in_graph": r.format == "savedmodel" or s.raw is not None,
        },
        "weights": os.fspath(r.weights) if r.weights is not None else None,
        "versions": _versions(),
        **art.meta,
    }
    if r.format == "savedmodel":
        meta["signature"] = _savedmodel_signature(s, s.top_k)
        return meta
    from keras_convnets.deploy import metadata

    runner = tflite.TFLiteRunner(art.content)
    meta["input"] = s.raw.to_json() if s.raw else "normalized"
    meta["signature"] = {
        "name": tflite.SIGNATURE,
        "inputs": {tflite.INPUT_NAME: runner.io_details()["input"]},
        "outputs": {tflite.OUTPUT_NAME: runner.io_details()["output"]},
    }
    meta["ops"] = tflite.op_types(art.content)
    meta["tflite_metadata"] = metadata.read(art.content)
    return meta


def _savedmodel_signature(s: Subject, top_k) -> dict:
    from keras_convnets.deploy import savedmodel

    outputs = {
        "probabilities": {"dtype": "float32", "shape": [None, s.classes]},
        "top_k_classes": {"dtype": "int32", "shape": [None, top_k]},
        "top_k_probabilities": {"dtype": "float32", "shape": [None, top_k]},
        "top_k_labels": {"dtype": "string", "shape": [None, top_k]},
    }
    inputs = {
        savedmodel.INPUT_NAME: {"dtype": "uint8", "shape": [None, None, None, s.input_shape[-1]]}
    }
    return {"name": savedmodel.SIGNATURE, "inputs": inputs, "outputs": outputs}


def write_sidecars(r: ExportRequest, s: Subject, art: Artifact, report: dict, staging):
    """Labels, metadata JSON, parity JSON (and the mean image), under temporary names."""
    stem = r.stem
    meta = describe(r, s, art)
    if s.preprocessor.mean_image is not None:
        meta["input_normalization"]["mean_image_file"] = os.path.basename(stem) + ".mean.npy"
        with open(staging.path(stem + ".mean.npy"), "wb") as f:
            np.save(f, s.preprocessor.mean_image)
    with open(staging.path(stem + ".labels.txt"), "w", encoding="utf-8") as f:
        f.write("\n".join(s.labels) + "\n")
    for suffix, payload in ((".json", meta), (".parity.json", report)):
        with open(staging.path(stem + suffix), "w", encoding="utf-8") as f:
            json.dump(payload, f, indent=2, sort_keys=True)
            f.write("\n")


# ----------------------------------------------------------------------------- entry points


def export(r: ExportRequest) -> dict:
    """Runs the stages of one export (see the module doc); returns the parity report."""
    io_type = validate(r)
    subject = resolve_subject(r, io_type)
    data = load_data(r, subject)
    start = time.perf_counter()
    with atomic.Staging(manifest=r.stem + ".manifest.json") as staging:
        artifact = convert(r, subject, data, staging)
        report = check_parity(r, subject, data, artifact)
        report["export_seconds"] = round(time.perf_counter() - start, 2)
        write_sidecars(r, subject, artifact, report, staging)
    r.log(parity.format_table([report]))
    if report["fold_max_abs_diff_prob"] is not None:
        r.log(f"BN folded: max |dprob| vs unfolded Keras {report['fold_max_abs_diff_prob']:.2e}")
    return report


def export_model(model, output, **options) -> dict:
    """Exports ``model`` to ``output`` with labels, metadata and a parity report beside it.

    ``options`` are the fields of :class:`ExportRequest` (``format``,
    ``quantize``, ``input``, ``quantizer``, ``weights``, ``dataset``, ...).
    Returns the parity report (a dict). Example::

        export_model("resnet20", "out/resnet20_int8.tflite", quantize="int8",
                     weights="run/ckpt.weights.h5", dataset="fashion_mnist")
    """
    fields = {f.name for f in dataclasses.fields(ExportRequest)}
    unknown = sorted(set(options) - fields)
    if unknown:
        raise TypeError(
            f"export_model() got unknown option(s) {', '.join(unknown)}. "
            f"Allowed: {', '.join(sorted(fields - {'model', 'output'}))}"
        )
    return export(ExportRequest(model=model, output=output, **options))


def verify_export(output) -> dict:
    """Checks an export's files against its manifest; ``ValueError`` if they do not match.

    Finishes first an export that was interrupted between its renames.
    """
    output = os.path.abspath(os.fspath(output))
    stem = output[: -len(".tflite")] if output.endswith(".tflite") else output.rstrip(os.sep)
    return atomic.verify_unit(stem + ".manifest.json")


def _versions():
    import keras
    import tensorflow as tf

    return {"tensorflow": tf.__version__, "keras": keras.__version__}


def check_top_k(top_k, classes):
    """``top_k`` (default ``min(5, classes)``), checked to be in ``[1, classes]``."""
    if top_k is None:
        return min(5, classes)
    if isinstance(top_k, bool) or not isinstance(top_k, int) or not 1 <= top_k <= classes:
        raise ValueError(
            f"`top_k` must be an integer in [1, {classes}] (the model's classes). "
            f"Received: top_k={top_k!r}"
        )
    return top_k


def _check_registry_normalization(model, arch, mode):
    """Refuses the registry's normalisation on a model whose input it was not made for."""
    channels = int(model.input_shape[-1])
    if mode in ("caffe", "torch", "tf") and channels != 3:
        raise ValueError(
            f"The registry normalisation of {arch!r} ({mode!r}, for 3-channel ImageNet images) "
            f"does not fit this model's {channels}-channel input: it was trained another way. "
            "Pass `run` (the training run directory: python -m export --run=DIR), or `pipeline`"
            " (and `mean_image`) or `preprocessing_mode` as in training."
        )


def run_export_arguments(run_dir, **given):
    """The :func:`export_model` arguments of a finished training run (``export --run=DIR``).

    Model (``model.keras``), registry name, evaluation transform (pipeline,
    normalisation, mean image), classes, labels and the data source (for int8
    calibration, the parity report and QAT: the run's dataset with its split
    rules). ``given`` holds the caller's explicit values: one that contradicts
    the run raises ``ValueError`` naming both; ``dataset`` may name other data.
    """
    run = run_lib.load_run(run_dir)
    dataset = given.pop("dataset", None)  # other data may be named: the run's by default
    run_lib.check_against_run(run, given)
    return {
        "model": run.path(run.model_file),
        "arch": run.registry_name,
        "pipeline": run.pipeline,
        "preprocessing_mode": run.preprocessing_mode,
        "mean_image": run.path(run.mean_image) if run.mean_image else None,
        "labels": list(run.class_names),
        "dataset": datasets.check_dataset(dataset)
        if dataset is not None
        else datasets.DataSource(run.dataset, run.data_dir, run.val_fraction, run.split_seed),
    }

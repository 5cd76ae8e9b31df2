"""One export: check every argument, build or load the model, convert, compare, write.

:func:`export_model` is what ``python -m export`` calls. Order of work:

1. every argument is checked (format, quantization mode, representative data
   for int8/QAT, labels, preprocessing, the weights file against the model)
   and a ``ValueError`` raised *before* any conversion;
2. the artefacts are written under temporary names
   (:class:`keras_convnets.atomic.Staging`): the model, ``<stem>.labels.txt``,
   ``<stem>.json`` (metadata: signature, tensor names, shapes, dtypes,
   quantization, input normalisation) and ``<stem>.parity.json``;
3. only when all succeeded are they renamed into place, as one unit: a journal
   makes an interrupted set of renames finish at the next export or
   :func:`verify_export`, and ``<stem>.manifest.json`` (SHA-256 of each file,
   renamed last) lets a reader check the set. A failed conversion leaves no
   file and an older export intact.
"""

from __future__ import annotations

import json
import os
import time

import numpy as np

from keras_convnets import atomic
from keras_convnets.deploy import datasets, parity, preprocessing, tflite

FORMATS = ("savedmodel", "tflite")


def _read_labels(labels, classes):
    if labels is None:
        return None
    if isinstance(labels, (str, os.PathLike)):
        path = os.fspath(labels)
        if not os.path.isfile(path):
            raise ValueError(f"`labels` file {path!r} does not exist.")
        with open(path, encoding="utf-8") as f:
            labels = [line.rstrip("\n") for line in f if line.strip()]
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
    # Importing the family modules registers them (until the package imports them all).
    from keras_convnets.models import googlenet, inception_v3, registry, resnet  # noqa: F401
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


def default_stem(name, fmt, quantize):
    return f"{name}_savedmodel" if fmt == "savedmodel" else f"{name}_{quantize}"


def export_model(
    model,
    output,
    *,
    format="tflite",  # noqa: A002 - the flag's name
    quantize="none",
    io_type="int8",
    weights=None,
    input_shape=None,
    classes=None,
    build_kwargs=None,
    arch=None,
    preprocessing_mode=None,
    pipeline=None,
    mean_image=None,
    dataset=None,
    labels=None,
    representative_images=None,
    representative_count=200,
    eval_images=None,
    eval_labels=None,
    eval_count=500,
    train_images=None,
    train_labels=None,
    qat_steps=100,
    qat_batch_size=32,
    qat_learning_rate=1e-4,
    top_k=None,
    latency_runs=20,
    fold=True,
    verbose=True,
):
    """Exports ``model`` to ``output`` and writes labels, metadata and a parity report beside it.

    ``model``: a registry name (with ``weights``), a ``.keras`` file or a Keras
    model. ``output``: the ``.tflite`` file, or the SavedModel folder. Images
    (``representative_images``, ``eval_images``, ``train_images``) are uint8
    ``[N, h, w, c]``: they are resized and normalised like the served input.
    With ``dataset="fashion_mnist"`` they come from the local IDX files.
    ``preprocessing_mode``: the normalisation the weights were trained with
    (default: the registry's); it is recorded in the metadata. ``pipeline``
    (``"cifar"``, ``"inception"``, ...): use instead the evaluation transform
    of that training pipeline (:func:`keras_convnets.data.make_preprocess`);
    ``"cifar"`` needs the training set's ``mean_image`` (an array or a ``.npy``
    file; default: ``mean_image.npy`` beside the weights, as the training loop
    writes it), which is copied beside the export. ``fold``: the SavedModel serves
    :func:`keras_convnets.optimize_for_inference` of the model (BN folded); the
    report's ``fold_max_abs_diff_prob`` is its max |dprob| against the
    unfolded Keras model (``None`` when not folded; TFLite folds BN itself).

    Returns the parity report (a dict). Example::

        export_model("resnet20", "out/resnet20_int8.tflite", quantize="int8",
                     weights="run/ckpt.weights.h5", dataset="fashion_mnist")
    """
    from keras_convnets.models import heads, registry

    # 1. Arguments, before any work.
    if format not in FORMATS:
        raise ValueError(
            f"`format` must be one of {', '.join(FORMATS)}. Received: format={format!r}"
        )
    tflite.check_quantize(quantize, io_type)
    if format == "savedmodel" and quantize != "none":
        raise ValueError(
            "`quantize` applies to TFLite only; a SavedModel is float32. "
            f"Received: format='savedmodel', quantize={quantize!r}"
        )
    dataset = datasets.check_dataset(dataset)  # every source training takes (DataSource)
    _check_count("representative_count", representative_count)
    _check_count("eval_count", eval_count)
    _check_count("latency_runs", latency_runs, 20)
    _check_count("qat_steps", qat_steps, 0)
    _check_count("qat_batch_size", qat_batch_size)
    _check_count("top_k", top_k)
    if not (isinstance(qat_learning_rate, (int, float)) and 0 < qat_learning_rate < np.inf):
        raise ValueError(
            "`qat_learning_rate` must be finite and > 0. "
            f"Received: qat_learning_rate={qat_learning_rate!r}"
        )
    if quantize == "int8" and dataset is None and representative_images is None:
        raise ValueError(
            "Full-integer int8 needs representative data: pass `dataset` or "
            "`representative_images`. Received neither."
        )
    if quantize == "qat" and dataset is None and (train_images is None or train_labels is None):
        raise ValueError(
            "QAT fine-tunes on labelled images: pass `dataset` or `train_images` and "
            "`train_labels`. Received neither."
        )
    if (eval_images is None) != (eval_labels is None):
        raise ValueError("`eval_images` and `eval_labels` must be given together.")
    output = os.path.abspath(os.fspath(output))
    if format == "tflite" and not output.endswith(".tflite"):
        raise ValueError(f"A TFLite `output` must end in '.tflite'. Received: output={output!r}")
    if os.path.exists(output) and (os.path.isdir(output) != (format == "savedmodel")):
        raise ValueError(
            f"`output` {output!r} exists and is a {'folder' if os.path.isdir(output) else 'file'}; "
            f"a {format} export would replace it with the other kind. Remove it first."
        )
    if preprocessing_mode is not None:
        preprocessing.normalization(preprocessing_mode)
    if mean_image is not None and pipeline != "cifar":
        raise ValueError(
            "`mean_image` is subtracted by pipeline='cifar' only. "
            f"Received: mean_image={_short(mean_image)}, pipeline={pipeline!r}"
        )
    if pipeline is not None:
        from keras_convnets import data

        if pipeline not in data.PIPELINES:
            raise ValueError(
                f"`pipeline` must be one of {', '.join(data.PIPELINES)} or None. "
                f"Received: pipeline={pipeline!r}"
            )
        if pipeline == "cifar":
            if mean_image is None and weights is not None:
                candidate = os.path.join(os.path.dirname(os.fspath(weights)), "mean_image.npy")
                mean_image = candidate if os.path.isfile(candidate) else None
            if mean_image is None:
                raise ValueError(
                    "pipeline='cifar' subtracts the training set's per-pixel mean: pass "
                    "`mean_image` (array or .npy file). Received: none, and no mean_image.npy "
                    "beside the weights."
                )
        if isinstance(mean_image, (str, os.PathLike)):
            if not os.path.isfile(mean_image):
                raise ValueError(f"`mean_image` file {os.fspath(mean_image)!r} does not exist.")
            mean_image = np.load(mean_image)

    keras_model, name = resolve_model(
        model, weights=weights, input_shape=input_shape, classes=classes, build_kwargs=build_kwargs
    )
    arch = arch or name
    if preprocessing_mode is None and pipeline in ("cifar", "none"):
        prep_source = f"training pipeline {pipeline!r}"
    elif preprocessing_mode is None:
        key = arch or keras_model.name
        if key not in registry.list_models():
            raise ValueError(
                f"`preprocessing_mode` is needed: {key!r} is not a registry name, so its "
                f"normalisation is unknown. Allowed: {', '.join(preprocessing.PREPROCESSING_MODES)}"
            )
        preprocessing_mode, prep_source = registry.model_info(key).preprocessing, "registry"
        _check_registry_normalization(keras_model, key, preprocessing_mode)
    else:
        prep_source = "argument (the normalisation used in training)"
    full_model = keras_model  # with its auxiliary heads: what the tf_keras twin copies
    keras_model = heads.inference_model(keras_model)
    size = tuple(int(d) for d in keras_model.input_shape[1:3])
    channels = int(keras_model.input_shape[-1])
    n_classes = int(keras_model.output_shape[-1])
    top_k = check_top_k(top_k, n_classes)
    if dataset is not None and labels is None:
        labels = datasets.labels_for(dataset)
    labels = _read_labels(labels, n_classes)
    if quantize == "qat" and arch is None:
        from keras_convnets.models import _common

        if _common.build_spec(keras_model) is None:
            raise ValueError(
                "QAT rebuilds the model with tf_keras: pass `arch` (a registry name) for a "
                "model not built by keras_convnets in this process."
            )

    preprocessor = preprocessing.Preprocessor(
        (*size, channels), mode=preprocessing_mode, pipeline=pipeline, mean_image=mean_image
    )
    prep = preprocessor.numpy

    # Data: evaluation (test split), calibration and fine-tuning (train split).
    if eval_images is None:
        if dataset is not None:
            eval_images, eval_labels = datasets.load_images(dataset, "test", count=eval_count)
        else:
            # Without a labelled set, the parity of numbers still holds on noise images;
            # "accuracy" then measures agreement with the Keras model's own top-1.
            rng = np.random.default_rng(0)
            eval_images = rng.integers(0, 256, size=(min(eval_count, 64), *size, channels))
            eval_images = eval_images.astype(np.uint8)
            eval_labels = None
    eval_x = prep(eval_images)
    keras_probs = parity.keras_probabilities(keras_model, eval_x)
    if eval_labels is None:
        eval_labels = keras_probs.argmax(-1)
        eval_source = "random uint8 images; labels = Keras top-1"
    else:
        eval_source = str(dataset) if dataset else "given images"
    representative = None
    if quantize == "int8":
        if representative_images is None:
            representative_images, _ = datasets.load_images(
                dataset, "train", count=representative_count
            )
        representative = prep(representative_images[:representative_count])

    def log(msg):
        if verbose:
            print(msg, flush=True)

    log(f"input transform ({prep_source}): {json.dumps(preprocessor.to_json())}")
    start = time.perf_counter()
    stem = output[: -len(".tflite")] if format == "tflite" else output.rstrip(os.sep)
    meta = {
        "model": keras_model.name,
        "registry_name": arch,
        "format": format,
        "quantize": quantize,
        "classes": n_classes,
        "labels_file": os.path.basename(stem) + ".labels.txt",
        "input_normalization": {
            **preprocessor.to_json(),
            "source": prep_source,
            "size": list(size),
            "channels": channels,
        },
        "weights": os.fspath(weights) if weights is not None else None,
        "versions": _versions(),
    }
    with atomic.Staging(manifest=stem + ".manifest.json") as staging:
        staged = staging.path(output, directory=(format == "savedmodel"))
        if format == "savedmodel":
            from keras_convnets.deploy import savedmodel

            served_model = keras_model
            if fold:
                from keras_convnets.models.inference import optimize_for_inference

                served_model = optimize_for_inference(keras_model)
                folded_probs = parity.keras_probabilities(served_model, eval_x)
                meta["fold_max_abs_diff_prob"] = float(np.abs(folded_probs - keras_probs).max())
            log(f"writing SavedModel {output} ({'BN folded' if fold else 'not folded'})")
            savedmodel.write_serving_savedmodel(
                served_model,
                staged,
                preprocessing=preprocessor,
                labels=labels,
                top_k=top_k,
                fold=False,  # folded above, once
            )
            runner = savedmodel.SavedModelRunner(staged)
            # The client sends raw pixels: only the channels are repeated here.
            served = eval_images
            if served.shape[-1] != channels:
                served = np.repeat(served, channels, axis=-1)
            export_probs = runner.predict(np.asarray(served, np.uint8))
            latency = None
            meta["signature"] = {
                "name": savedmodel.SIGNATURE,
                "inputs": {
                    savedmodel.INPUT_NAME: {"dtype": "uint8", "shape": [None, None, None, channels]}
                },
                "outputs": {
                    "probabilities": {"dtype": "float32", "shape": [None, n_classes]},
                    "top_k_classes": {"dtype": "int32", "shape": [None, top_k]},
                    "top_k_probabilities": {"dtype": "float32", "shape": [None, top_k]},
                    **(
                        {"top_k_labels": {"dtype": "string", "shape": [None, top_k]}}
                        if labels
                        else {}
                    ),
                },
            }
        else:
            if quantize == "qat":
                content, qat_model = _qat(
                    full_model,
                    arch=arch,
                    twin_kwargs=build_kwargs,
                    dataset=dataset,
                    train_images=train_images,
                    train_labels=train_labels,
                    count=max(representative_count, qat_steps * qat_batch_size),
                    prep=prep,
                    steps=qat_steps,
                    batch_size=qat_batch_size,
                    learning_rate=qat_learning_rate,
                    io_type=io_type,
                    log=log,
                    meta=meta,
                )
            else:
                log(f"converting {keras_model.name} to TFLite (quantize={quantize})")
                content = tflite.convert(
                    keras_model, quantize, representative=representative, io_type=io_type
                )
            with open(staged, "wb") as f:
                f.write(content)
            runner = tflite.TFLiteRunner(content)
            export_probs = runner.predict(eval_x)
            if quantize == "qat":
                # The fine-tuned QAT model is what the converter translates:
                # its (fake-quantized) outputs are the reference of the conversion itself.
                qat_probs = parity.keras_probabilities(qat_model, eval_x)
                meta["qat"]["conversion_max_abs_diff_prob"] = float(
                    np.abs(qat_probs - export_probs).max()
                )
                meta["qat"]["keras_accuracy"] = float(
                    100.0 * np.mean(qat_probs.argmax(-1) == np.asarray(eval_labels))
                )
            latency = parity.tflite_latency(content, eval_x[:1], runs=latency_runs)
            meta["signature"] = {
                "name": tflite.SIGNATURE,
                "inputs": {tflite.INPUT_NAME: runner.io_details()["input"]},
                "outputs": {tflite.OUTPUT_NAME: runner.io_details()["output"]},
            }
            if quantize == "int8":
                meta["representative"] = {
                    "dataset": str(dataset) if dataset else "given images",
                    "split": "train" if dataset else None,
                    "count": int(len(representative)),
                }
        report = {
            "artifact": output,
            "format": format,
            "quantize": quantize,
            "io_type": io_type if quantize in ("int8", "qat") else "float32",
            "size_bytes": parity.path_size(staged),
            "eval_set": eval_source,
            "latency_ms": latency,
            "latency_note": (
                f"median of {latency_runs} invocations after 3 warm-up, XNNPACK, per thread count"
            )
            if latency
            else "not measured for SavedModel",
            "export_seconds": round(time.perf_counter() - start, 2),
            **parity.compare(keras_probs, export_probs, eval_labels),
            "fold_max_abs_diff_prob": meta.get("fold_max_abs_diff_prob"),
        }
        if quantize == "qat":
            # Parity of the conversion itself: fine-tuned QAT Keras model vs its TFLite.
            report["qat_conversion_max_abs_diff_prob"] = meta["qat"]["conversion_max_abs_diff_prob"]
            report["qat_keras_accuracy"] = meta["qat"]["keras_accuracy"]
        if preprocessor.mean_image is not None:
            meta["input_normalization"]["mean_image_file"] = os.path.basename(stem) + ".mean.npy"
            with open(staging.path(stem + ".mean.npy"), "wb") as f:
                np.save(f, preprocessor.mean_image)
        with open(staging.path(stem + ".labels.txt"), "w", encoding="utf-8") as f:
            f.write("\n".join(labels or [str(i) for i in range(n_classes)]) + "\n")
        with open(staging.path(stem + ".json"), "w", encoding="utf-8") as f:
            json.dump(meta, f, indent=2, sort_keys=True)
            f.write("\n")
        with open(staging.path(stem + ".parity.json"), "w", encoding="utf-8") as f:
            json.dump(report, f, indent=2, sort_keys=True)
            f.write("\n")
    log(parity.format_table([report]))
    if report["fold_max_abs_diff_prob"] is not None:
        log(f"BN folded: max |dprob| vs unfolded Keras {report['fold_max_abs_diff_prob']:.2e}")
    return report


def verify_export(output) -> dict:
    """Checks an export's files against its manifest; ``ValueError`` if they do not match.

    Finishes first an export that was interrupted between its renames.
    """
    output = os.path.abspath(os.fspath(output))
    stem = output[: -len(".tflite")] if output.endswith(".tflite") else output.rstrip(os.sep)
    return atomic.verify_unit(stem + ".manifest.json")


def _qat(
    keras_model,
    *,
    arch,
    dataset,
    train_images,
    train_labels,
    count,
    prep,
    steps,
    batch_size,
    learning_rate,
    io_type,
    log,
    meta,
    twin_kwargs=None,
):
    from keras_convnets.deploy import qat

    if train_images is None:
        train_images, train_labels = datasets.load_images(dataset, "train", count=count, seed=1)
    x = prep(train_images)
    log(f"QAT: tf_keras twin of {keras_model.name}, {steps} steps of batch {batch_size}")
    from keras_convnets.models import _common, heads

    build_kwargs = {}
    if _common.build_spec(keras_model) is None:
        # Loaded from a file: the twin is rebuilt from the registry name and the
        # build arguments given (e.g. shortcut="B"), at the model's own shape.
        build_kwargs = dict(twin_kwargs or {})
        build_kwargs["input_shape"] = tuple(keras_model.input_shape[1:])
        build_kwargs["classes"] = int(heads.inference_model(keras_model).output_shape[-1])
    q = qat.quantize_model(
        keras_model, arch=arch if build_kwargs else None, check_images=x[:8], **build_kwargs
    )
    loss = qat.fine_tune(
        q, x, train_labels, steps=steps, batch_size=batch_size, learning_rate=learning_rate
    )
    meta["qat"] = {
        "steps": steps,
        "batch_size": batch_size,
        "learning_rate": learning_rate,
        "final_loss": loss,
        "train_images": int(len(x)),
    }
    log("QAT: converting")
    return qat.convert(q, io_type=io_type), q


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
    from keras_convnets.training import run as run_lib

    run = run_lib.load_run(run_dir)
    args = {
        "model": run.path(run.model_file),
        "arch": run.registry_name,
        "pipeline": run.pipeline,
        "preprocessing_mode": run.preprocessing_mode,
        "mean_image": run.path(run.mean_image) if run.mean_image else None,
        "labels": list(run.class_names),
        "dataset": datasets.DataSource(run.dataset, run.data_dir, run.val_fraction, run.split_seed),
        "input_shape": tuple(run.input_shape),
        "classes": run.classes,
    }
    same = {"model": (args["model"], run.registry_name), "weights": ()}
    for key, value in given.items():
        if value is None:
            continue
        if key == "dataset":
            args["dataset"] = datasets.check_dataset(value)
        elif key in same and value not in same[key]:
            raise ValueError(
                f"`{key}`={value!r} contradicts the run {run.directory!r}, whose model is "
                f"{run.registry_name!r} in {args['model']!r}."
            )
        elif key in args and _differs(value, args[key]):
            raise ValueError(
                f"`{key}`={value!r} contradicts the run {run.directory!r}, whose {key} is "
                f"{args[key]!r}."
            )
    for key in ("input_shape", "classes"):  # a .keras model knows them
        args.pop(key)
    return args


def _differs(value, expected) -> bool:
    if isinstance(expected, tuple):
        return tuple(value) != expected
    if isinstance(expected, list) and isinstance(value, (str, os.PathLike)):
        return _read_labels(value, len(expected)) != expected
    return value != expected

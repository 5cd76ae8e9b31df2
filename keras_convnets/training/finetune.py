"""Starting a run from pretrained weights: ``imagenet``, ``torchvision[:TAG]``/``timm[:TAG]``
(or a local ``.pth``/``.safetensors`` checkpoint), a weights or ``.keras`` file, a run: the
forms the builders' ``weights=`` takes, and a run directory.

The new model is built for the dataset's classes; every layer of it whose
name and shapes match a layer of the pretrained model takes that layer's
weights, the others (the classifier, for other classes) stay freshly
initialised and form the *head*. During a fine-tuning warm-up only the head
trains (:func:`set_backbone_trainable`); BatchNorm layers stay frozen in both
phases (inference mode, pretrained moving statistics).
"""

from __future__ import annotations

import os

from keras_convnets import runs as run_lib

HOSTED = "imagenet"


def build_kwargs(weights, model: str) -> dict:
    """The builder options the network needs to take ``weights`` (``style="torch"`` for the
    torchvision/timm layout of a ResNet or GoogLeNet; nothing for other weights)."""
    from keras_convnets.models import pretrained

    entry = pretrained.entry_for_model(weights, model)
    return {} if entry is None else dict(entry.build_kwargs)


def describe_source(weights) -> str:
    from keras_convnets.models import pretrained

    if weights is None:
        return "random initialisation"
    if weights == HOSTED:
        return "ImageNet weights"
    if pretrained.is_source(weights) and not os.path.exists(weights):
        return f"the converted weights {weights!r}"
    if run_lib.is_run_dir(weights):
        return f"the run {os.fspath(weights)!r}"
    return f"the file {os.fspath(weights)!r}"


def source_run(weights):
    """The run card when ``weights`` is a run directory, else ``None``."""
    if weights in (None, HOSTED) or not os.path.isdir(weights):
        return None
    return run_lib.load_run(weights, arg="weights")


def transform_of(weights, *, info, source):
    """``(pipeline, preprocessing_mode, mean_image or None)`` the weights were trained with.

    A run says it in its card; ImageNet weights and weights files are taken to
    be trained with the registry's normalisation (``tf``: Inception pipeline,
    others the ResNet ImageNet pipeline).
    """
    if source is not None:
        return source.pipeline, source.preprocessing_mode, source.mean()
    from keras_convnets.models import pretrained

    entry = pretrained.entry_for_model(weights, info.name) if info is not None else None
    if entry is not None:  # torchvision/timm: their mean/std ("tf" when it is 0.5, 0.5)
        pipeline = "inception" if entry.eval_size == 299 else "resnet_imagenet"
        return pipeline, entry.preprocessing_mode, None
    if info is None:
        raise ValueError(
            f"The transform of {describe_source(weights)} is unknown for a model that is not "
            "registered: fine-tune from a run directory, which records it."
        )
    pipeline = "inception" if info.preprocessing == "tf" else "resnet_imagenet"
    return pipeline, info.preprocessing, None


def pretrained_model(weights, *, arch, input_shape, source=None):
    """A Keras model holding the pretrained weights (built with the builder's ``weights=``)."""
    from keras_convnets.models import pretrained, registry
    from keras_convnets.models.saving import load_model

    if source is not None:
        model = source.load_model()
    elif weights == HOSTED or pretrained.entry_for_model(weights, arch) is not None:
        model = registry.get_model(
            arch, include_top=False, weights=weights, input_shape=tuple(input_shape)
        )
    elif os.fspath(weights).endswith(".keras"):
        model = load_model(weights, compile=False)
    else:
        model = _from_weights_file(weights, arch=arch, input_shape=input_shape)
    return model


def _from_weights_file(path, *, arch, input_shape):
    """The registry model for ``path``, trying each classifier width the file holds."""
    from keras_convnets.models import registry

    errors = []
    for classes in _classifier_widths(path):
        try:
            return registry.get_model(
                arch, weights=path, input_shape=tuple(input_shape), classes=classes
            )
        except ValueError as err:
            errors.append(f"classes={classes}: {err}")
    raise ValueError(
        f"`weights` file {os.fspath(path)!r} does not fit model {arch!r} at input shape "
        f"{tuple(input_shape)}: " + ("; ".join(errors[:2]) or "no classifier found in the file")
    )


def _classifier_widths(path) -> list:
    import h5py

    widths = set()

    def visit(name, obj):
        if isinstance(obj, h5py.Dataset) and len(obj.shape) == 2:
            widths.add(int(obj.shape[1]))

    try:
        with h5py.File(path, "r") as f:
            f.visititems(visit)
    except OSError as err:
        raise ValueError(
            f"`weights` file {os.fspath(path)!r} cannot be read (truncated or corrupt?): {err}"
        ) from None
    return sorted(widths)


def transfer_weights(source, target, *, skip=()) -> list:
    """Copies every same-named, same-shaped layer of ``source`` (but ``skip``) into ``target``.

    Returns the names of ``target``'s layers with weights that took none (the
    head). ``ValueError`` when no layer at all matches (another architecture).
    """
    by_name = {layer.name: layer for layer in source.layers}
    head, copied = [], 0
    for layer in target.layers:
        if not layer.weights:
            continue
        if layer.name in skip:
            head.append(layer.name)
            continue
        other = by_name.get(layer.name)
        values = other.get_weights() if other is not None else None
        if values is None or [v.shape for v in values] != [tuple(w.shape) for w in layer.weights]:
            head.append(layer.name)
            continue
        layer.set_weights(values)
        copied += 1
    if not copied:
        raise ValueError(
            f"No layer of the pretrained model {source.name!r} matches model {target.name!r} "
            "by name and shape: they are different architectures."
        )
    return head


def classifier_layers(model, source, class_names) -> set:
    """The output layers to re-initialise: all, unless ``source`` is a run of the same classes."""
    from keras_convnets.models import heads

    if source is not None and list(source.class_names) == list(class_names):
        return set()
    return {model.get_layer(name).name for name in heads.output_names(model) if _has(model, name)}


def _has(model, name) -> bool:
    try:
        model.get_layer(name)
    except ValueError:
        return False
    return True


def freeze_batchnorm(model):
    """BatchNorm layers in inference mode for the whole run (pretrained statistics kept)."""
    import keras

    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.trainable = False


def set_backbone_trainable(model, trainable: bool, head):
    """Freezes (or unfreezes) every layer outside ``head``; BatchNorm stays frozen."""
    import keras

    for layer in model.layers:
        if layer.name in head or not layer.weights:
            continue
        if isinstance(layer, keras.layers.BatchNormalization):
            continue
        layer.trainable = trainable

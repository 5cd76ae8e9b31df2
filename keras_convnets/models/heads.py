"""Auxiliary heads: the inference model, and targets for multi-output training.

Multi-output models (GoogLeNet: ``predictions``, ``aux1``, ``aux2``; Inception
v3: ``predictions``, ``aux``) keep the same output structure in training and
inference. For evaluation and export, :func:`inference_model` returns the
single-output model that shares the trained layers. :func:`with_aux_targets`
turns an ordinary ``(image, label)`` dataset into the per-output targets
``fit`` wants, and :func:`loss_weights` reads the paper's weights from the
registry.
"""

from __future__ import annotations

MAIN_OUTPUT = "predictions"


def output_names(model) -> list[str]:
    """Names of the model's outputs, in order (the layer names that produce them)."""
    names = getattr(model, "output_names", None)
    if names:
        return list(names)
    outputs = model.outputs
    return [t._keras_history[0].name for t in outputs]


def inference_model(model, output=MAIN_OUTPUT):
    """The single-output model ``inputs -> output`` sharing ``model``'s layers.

    A single-output model is returned as it is. Trained weights are shared,
    not copied: training ``model`` further changes the inference model too.

    Example:
        >>> import keras_convnets
        >>> m = keras_convnets.ResNet20()
        >>> keras_convnets.inference_model(m) is m
        True
    """
    if len(model.outputs) == 1:
        return model
    names = output_names(model)
    if output not in names:
        raise ValueError(
            f"`output` must be one of the model's outputs {names}. Received: output={output!r}"
        )
    module = type(model).__module__
    if module.startswith("tf_keras"):
        import tf_keras as k
    else:
        import keras as k
    tensor = model.outputs[names.index(output)]
    return k.Model(model.inputs, tensor, name=f"{model.name}_inference")


def with_aux_targets(dataset, model_or_names):
    """Maps a ``tf.data`` dataset of ``(x, y)`` (or ``(x, y, w)``) to per-output targets.

    ``model_or_names``: a model, or a list of output names. Single-output
    models get the dataset back unchanged.
    """
    names = (
        list(model_or_names)
        if isinstance(model_or_names, (list, tuple))
        else output_names(model_or_names)
    )
    if len(names) == 1:
        return dataset

    def to_dict(x, y, *rest):
        targets = {name: y for name in names}
        if rest:
            return (x, targets, {name: rest[0] for name in names})
        return (x, targets)

    return dataset.map(to_dict)


def loss_weights(name_or_model) -> dict | None:
    """The paper's loss weights per output (e.g. ``{"predictions": 1.0, "aux1": 0.3, ...}``)."""
    from keras_convnets.models import registry

    name = name_or_model if isinstance(name_or_model, str) else name_or_model.name
    return registry.model_info(name).loss_weights

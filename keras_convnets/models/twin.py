"""The legacy-Keras (tf_keras) twin of a model, with its weights copied exactly.

tensorflow-model-optimization quantizes tf_keras models only; :func:`tf_keras_twin`
calls this package's builders inside :func:`keras_convnets.models._compat.building_with`
``(tf_keras)``, so they produce the same architecture there (same layer names), and
:func:`copy_weights` moves the trained weights across. This is the one place that
asks for a tf_keras build: the public builders have no such argument.
"""

from __future__ import annotations

from keras_convnets.models import _common, _compat, registry


def copy_weights(source, target):
    """Copies every layer's weights from ``source`` to ``target``, matched by layer name.

    Both models may be Keras 3 or tf_keras. Raises ``ValueError`` before
    assigning anything if a layer with weights has no namesake or the shapes differ.
    """
    from keras_convnets.models import heads

    heads.check_model(source, "source")
    heads.check_model(target, "target")
    by_name = {layer.name: layer for layer in source.layers}
    plan = []
    for layer in target.layers:
        if not layer.weights:
            continue
        if layer.name not in by_name:
            raise ValueError(
                f"Layer {layer.name!r} of {target.name!r} has no namesake in {source.name!r}."
            )
        values = by_name[layer.name].get_weights()
        shapes = [tuple(w.shape) for w in layer.get_weights()]
        found = [tuple(v.shape) for v in values]
        if shapes != found:
            raise ValueError(
                f"Layer {layer.name!r}: {target.name!r} has weights of shapes {shapes}, "
                f"{source.name!r} has {found}."
            )
        plan.append((layer, values))
    unused = {n for n, layer in by_name.items() if layer.weights} - {
        layer.name for layer, _ in plan
    }
    if unused:
        raise ValueError(
            f"Layers of {source.name!r} with weights have no namesake in {target.name!r}: "
            f"{sorted(unused)[:5]}"
        )
    for layer, values in plan:
        layer.set_weights(values)
    return target


def tf_keras_twin(model, arch=None, **build_kwargs):
    """Builds ``model``'s architecture with tf_keras and copies its weights into it.

    ``arch`` (a registry name) and ``build_kwargs`` are needed only for a model
    that this session did not build (one loaded from a file, say); a model built
    by this package remembers how it was built.

    Example:
        >>> import keras_convnets
        >>> model = keras_convnets.ResNet20()
        >>> twin = keras_convnets.tf_keras_twin(model)
        >>> type(twin).__module__.startswith("tf_keras")
        True
    """
    import tf_keras

    from keras_convnets.models import heads

    heads.check_model(model)
    if arch is not None and not isinstance(arch, str):
        raise TypeError(f"`arch` must be a registry name or None. Received: arch={arch!r}")
    spec = _common.build_spec(model)
    if arch is None:
        if spec is None:
            raise ValueError(
                f"Model {model.name!r} was not built by keras_convnets in this process: pass "
                "`arch` (a registry name) and the build arguments (input_shape, classes, ...)."
            )
        arch, kwargs = spec
    else:
        kwargs = dict(spec[1]) if spec and spec[0] == arch else {}
        kwargs.setdefault("input_shape", tuple(model.input_shape[1:]))
    kwargs = dict(kwargs)
    kwargs.update(build_kwargs)
    kwargs["weights"] = None
    with _compat.building_with(tf_keras):
        twin = registry.model_info(arch).build(**kwargs)
    return copy_weights(model, twin)

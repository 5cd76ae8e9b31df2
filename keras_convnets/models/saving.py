"""Loading `.keras` files of this package's models."""

from __future__ import annotations

import keras

from keras_convnets.models import _common, layers


def load_model(path, *, safe_mode=True, compile=True, **kwargs):
    """``keras.models.load_model`` with this package's custom layers and deep graphs.

    Plain ``keras.models.load_model`` works too once ``keras_convnets`` is
    imported (the layers are registered); this wrapper also allows the
    recursion depth that rebuilding ResNet-1202's graph needs.
    """
    with _common.deep_recursion():
        return keras.models.load_model(
            path,
            custom_objects=layers.custom_objects(),
            safe_mode=safe_mode,
            compile=compile,
            **kwargs,
        )

"""Custom layers, serializable, written once for Keras 3 and for tf_keras.

Keras 3 classes use ``keras.ops`` only, so they run on every backend and save
to ``.keras`` files that load back with ``safe_mode=True`` (no ``Lambda``).
Each class's arithmetic lives in a mixin that receives its ops module; the
Keras 3 class binds ``keras.ops`` and :func:`tf_keras_layers` binds
TensorFlow's for the legacy twin used by quantization-aware training.
"""

from __future__ import annotations

import functools
import types

import keras

_PACKAGE = "keras_convnets"


class _ChannelPaddingMixin:
    """Appends ``padding`` all-zero channels (the option-A shortcut of He et al.)."""

    def __init__(self, padding: int, **kwargs):
        super().__init__(**kwargs)
        if int(padding) < 0:
            raise ValueError(
                f"`padding` must be a non-negative number of channels. Received: padding={padding}"
            )
        self.padding = int(padding)

    def call(self, inputs):
        # channels_last: [batch, height, width, channels]
        return self._ops.pad(inputs, [[0, 0], [0, 0], [0, 0], [0, self.padding]])

    def compute_output_shape(self, input_shape):
        shape = list(input_shape)
        if shape[-1] is not None:
            shape[-1] = shape[-1] + self.padding
        return tuple(shape)

    def get_config(self):
        config = super().get_config()
        config.update({"padding": self.padding})
        return config


@keras.saving.register_keras_serializable(package=_PACKAGE)
class ChannelPadding(_ChannelPaddingMixin, keras.layers.Layer):
    """Zero-pads the channel axis: ``[N, H, W, C] -> [N, H, W, C + padding]``.

    No parameters. Used by the parameter-free option-A shortcut.

    Example:
        >>> import numpy as np
        >>> ChannelPadding(2)(np.ones((1, 2, 2, 3), "float32")).shape
        (1, 2, 2, 5)
    """

    _ops = keras.ops


CUSTOM_LAYER_NAMES = ("ChannelPadding",)


def custom_objects() -> dict:
    """The custom layers by name, for ``keras.models.load_model(custom_objects=...)``."""
    module = globals()
    return {name: module[name] for name in CUSTOM_LAYER_NAMES}


@functools.cache
def tf_keras_layers() -> types.SimpleNamespace:
    """The same layers subclassing ``tf_keras.layers.Layer`` and using TensorFlow ops."""
    import tensorflow as tf
    import tf_keras

    register = tf_keras.utils.register_keras_serializable(package=_PACKAGE)
    namespace = {}
    module = globals()
    for name in CUSTOM_LAYER_NAMES:
        mixin = module[name].__mro__[1]
        cls = type(name, (mixin, tf_keras.layers.Layer), {"_ops": tf, "__module__": __name__})
        namespace[name] = register(cls)
    return types.SimpleNamespace(**namespace)

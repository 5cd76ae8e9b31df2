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


class _LocalResponseNormalizationMixin:
    """Local response normalization across channels (Krizhevsky et al. 2012).

    ``b[..., c] = a[..., c] / (bias + alpha * sum(a[..., c - r : c + r + 1] ** 2)) ** beta``
    with ``r = depth_radius``: TensorFlow's convention, where ``alpha`` multiplies
    each squared element. Caffe's LRN (``local_size = n = 2r + 1``) divides its
    ``alpha`` by ``n``, so Caffe's ``alpha=1e-4, local_size=5`` is
    ``depth_radius=2, alpha=2e-5`` here.
    """

    def __init__(
        self,
        depth_radius: int = 2,
        bias: float = 1.0,
        alpha: float = 1e-4,
        beta: float = 0.75,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if isinstance(depth_radius, bool) or int(depth_radius) != depth_radius or depth_radius < 0:
            raise ValueError(
                f"`depth_radius` must be an integer >= 0. Received: depth_radius={depth_radius!r}"
            )
        self.depth_radius = int(depth_radius)
        self.bias = float(bias)
        self.alpha = float(alpha)
        self.beta = float(beta)

    def call(self, inputs):
        ops = self._ops
        r = self.depth_radius
        channels = inputs.shape[-1]
        squared = ops.square(inputs)
        rank = len(inputs.shape)
        # Zero-pad the channel axis so that every channel sums a full window of
        # 2r + 1 shifted slices; only pad, slice, add and pow, which TFLite
        # converts to builtin ops (no Flex delegate).
        padded = ops.pad(squared, [[0, 0]] * (rank - 1) + [[r, r]])
        total = padded[..., 0:channels]
        for shift in range(1, 2 * r + 1):
            total = total + padded[..., shift : shift + channels]
        return inputs * (self.bias + self.alpha * total) ** (-self.beta)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "depth_radius": self.depth_radius,
                "bias": self.bias,
                "alpha": self.alpha,
                "beta": self.beta,
            }
        )
        return config


@keras.saving.register_keras_serializable(package=_PACKAGE)
class LocalResponseNormalization(_LocalResponseNormalizationMixin, keras.layers.Layer):
    """Across-channel LRN, equal to ``tf.nn.local_response_normalization`` with the same args.

    No parameters. GoogLeNet's ``norm1``/``norm2`` use it (see the mixin for
    the ``alpha`` convention versus Caffe's).

    Example:
        >>> import numpy as np
        >>> layer = LocalResponseNormalization(depth_radius=2, alpha=1e-4 / 5)
        >>> tuple(layer(np.ones((1, 2, 2, 8), "float32")).shape)
        (1, 2, 2, 8)
    """

    _ops = keras.ops


class _ScaledResidualMixin:
    """``shortcut + scale * residual`` (Szegedy et al. 2016, Fig. 20's scaling)."""

    def __init__(self, scale: float, **kwargs):
        super().__init__(**kwargs)
        if isinstance(scale, bool) or not isinstance(scale, (int, float)) or not scale > 0:
            raise ValueError(f"`scale` must be a number > 0. Received: scale={scale!r}")
        self.scale = float(scale)

    def call(self, inputs):
        shortcut, residual = inputs
        return shortcut + residual * self.scale

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[0])

    def get_config(self):
        config = super().get_config()
        config.update({"scale": self.scale})
        return config


@keras.saving.register_keras_serializable(package=_PACKAGE)
class ScaledResidual(_ScaledResidualMixin, keras.layers.Layer):
    """Adds a residual scaled by ``scale`` to its shortcut: ``inputs[0] + scale * inputs[1]``.

    No parameters; keras.applications' ``CustomScaleLayer`` does the same.
    The Inception-ResNet blocks use it.

    Example:
        >>> import numpy as np
        >>> ones = np.ones((1, 2), "float32")
        >>> np.asarray(ScaledResidual(0.5)([ones, ones])).tolist()
        [[1.5, 1.5]]
    """


CUSTOM_LAYER_NAMES = ("ChannelPadding", "LocalResponseNormalization", "ScaledResidual")


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

"""Input normalisation: the one home of the preprocessing modes and the functions applying them.

A mode says how a model's weights expect pixels in [0, 255]:

* ``"caffe"``: RGB -> BGR, then the ImageNet mean (BGR order) subtracted, no
  scaling (the hosted ResNet weights);
* ``"tf"``: scaled to [-1, 1] (InceptionV3);
* ``"torch"``: scaled to [0, 1], then the ImageNet mean/std.

:func:`normalization` gives a mode as numbers (channel order, mean, std:
``x = (image[..., order] - mean) / std``), recorded beside every export so that
a consumer can reproduce it without this package. :func:`preprocess_input` is
the ``keras.applications`` call (public as ``keras_convnets.preprocess_input``);
:func:`prepare` is the graph version every export runs (resize, grey -> RGB,
normalise). The training pipelines (:func:`keras_convnets.data.make_preprocess`)
call :func:`preprocess_input` for their last step.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from keras_convnets.models.pretrained.sources import IMAGENET_MEAN, IMAGENET_STD

PREPROCESSING_MODES = ("caffe", "tf", "torch")
_IMAGENET_MEAN_RGB, _IMAGENET_STD_RGB = IMAGENET_MEAN, IMAGENET_STD


@dataclass(frozen=True)
class Normalization:
    """``x = (image[..., channel_order] - mean) / std`` on float pixels in [0, 255]."""

    mode: str
    channel_order: str  # "RGB" or "BGR": the order the model's channels are in
    mean: tuple
    std: tuple

    def to_json(self) -> dict:
        return asdict(self)


def check_mode(mode, name="preprocessing"):
    """Raises ``ValueError`` naming ``name`` unless ``mode`` is a known mode."""
    if not isinstance(mode, str) or mode not in PREPROCESSING_MODES:
        raise ValueError(
            f"`{name}` must be one of {', '.join(PREPROCESSING_MODES)}. Received: {name}={mode!r}"
        )


def normalization(mode: str) -> Normalization:
    """The normalisation of a ``keras.applications`` preprocessing mode, as numbers.

    Example:
        >>> normalization("tf").mean
        (127.5, 127.5, 127.5)
    """
    check_mode(mode)
    if mode == "caffe":
        # keras.applications: RGB -> BGR, then the ImageNet mean (BGR order), no scaling.
        return Normalization("caffe", "BGR", (103.939, 116.779, 123.68), (1.0, 1.0, 1.0))
    if mode == "tf":
        return Normalization("tf", "RGB", (127.5,) * 3, (127.5,) * 3)
    return Normalization(
        "torch",
        "RGB",
        tuple(255.0 * m for m in _IMAGENET_MEAN_RGB),
        tuple(255.0 * s for s in _IMAGENET_STD_RGB),
    )


def preprocess_input(images, mode="caffe"):
    """Preprocesses a batch of RGB images in [0, 255] for a model's weights.

    ``images``: ``(h, w, c)`` or ``(n, h, w, c)``, NumPy or a tensor, any
    numeric dtype (integers are converted to float32). ``"caffe"`` and
    ``"torch"`` need 3 channels; ``"tf"`` takes any number. Unlike
    ``keras.applications``, a NumPy float array is never modified in place:
    the result is a new array.

    Example:
        >>> import numpy as np, keras_convnets
        >>> x = keras_convnets.preprocess_input(np.full((1, 2, 2, 3), 255.0), mode="tf")
        >>> float(x.max())
        1.0
    """
    import keras

    check_mode(mode, "mode")
    if not hasattr(images, "shape"):
        images = np.asarray(images)
    _check_image_shape(tuple(images.shape) if images.shape is not None else None, mode)
    if isinstance(images, np.ndarray):
        if not np.issubdtype(images.dtype, np.number) or images.dtype == np.bool_:
            raise TypeError(
                f"`images` must hold numbers in [0, 255]. Received: dtype={images.dtype}"
            )
        # keras.applications writes into a float array it is given; copy instead.
        images = np.array(images, dtype=np.promote_types(images.dtype, np.float32), copy=True)
    elif not keras.backend.is_float_dtype(keras.backend.standardize_dtype(images.dtype)):
        images = keras.ops.cast(images, "float32")
    return keras.applications.imagenet_utils.preprocess_input(images, mode=mode)


def _check_image_shape(shape, mode):
    if shape is None or len(shape) not in (3, 4):
        raise ValueError(
            "`images` must be an image (height, width, channels) or a batch (n, height, width, "
            f"channels). Received: shape={shape}"
        )
    channels = shape[-1]
    if mode in ("caffe", "torch") and channels is not None and channels != 3:
        raise ValueError(
            f"mode={mode!r} normalises RGB images: `images` must have 3 channels. "
            f"Received: shape={shape} ({channels} channels); mode='tf' takes any number."
        )


def normalize(x, mode):
    """Float pixels ``[..., C]`` in [0, 255] -> normalised as ``mode`` (TensorFlow ops)."""
    norm = normalization(mode)
    channels = int(x.shape[-1])
    if channels == 3 and norm.channel_order == "BGR":
        x = x[..., ::-1]
    mean = np.asarray(norm.mean[:channels], np.float32)
    std = np.asarray(norm.std[:channels], np.float32)
    return (x - mean) / std


def to_channels(x, channels):
    """Repeats a single channel to ``channels`` (grey -> RGB); other mismatches raise."""
    import tensorflow as tf

    have = x.shape[-1]
    if have is None or have == channels:
        return x
    if have == 1:
        # Grayscale datasets (Fashion-MNIST) feed three-channel models: the
        # same intensity in each channel.
        return tf.repeat(x, channels, axis=-1)
    raise ValueError(
        f"Images with {have} channels cannot feed a model taking {channels}; "
        "only 1 -> 3 (grayscale -> RGB) is converted."
    )


def prepare(images, *, size, channels, mode):
    """uint8 (or float in [0, 255]) images ``[N, h, w, c]`` -> the model's float32 input.

    Resizes to ``size`` (height, width) bilinearly, repeats a single channel to
    ``channels`` and normalises as ``mode``. Runs in a TensorFlow graph.

    Example:
        >>> import numpy as np
        >>> x = prepare(np.zeros((2, 28, 28, 1), "uint8"), size=(32, 32), channels=3, mode="tf")
        >>> tuple(x.shape), float(x.numpy().min())
        ((2, 32, 32, 3), -1.0)
    """
    import tensorflow as tf

    check_mode(mode)
    x = to_channels(tf.cast(images, tf.float32), channels)
    x = tf.image.resize(x, (int(size[0]), int(size[1])), method="bilinear")
    return normalize(x, mode)


def prepare_numpy(images, *, size, channels, mode, batch_size=256) -> np.ndarray:
    """:func:`prepare` on a NumPy array, in batches; returns float32 NumPy."""
    out = []
    for start in range(0, len(images), batch_size):
        batch = prepare(images[start : start + batch_size], size=size, channels=channels, mode=mode)
        out.append(batch.numpy())
    return np.concatenate(out, axis=0) if out else np.zeros((0, *size, channels), np.float32)

"""The input normalisation of an exported model, written once and recorded.

Every export applies the same three steps to uint8 images: resize to the
model's input size (bilinear, as the training pipeline does), grayscale ->
RGB when the model takes three channels, then the normalisation of one of the
``keras.applications`` modes. A mode is recorded as data (channel order, mean,
std: ``x = (image[..., order] - mean) / std``) in the JSON beside each export,
so that a consumer can reproduce it without this package.

The same :func:`prepare` serves the SavedModel graph, the representative
dataset of int8 conversion and the evaluation set of the parity report, so the
three cannot drift apart.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

PREPROCESSING_MODES = ("caffe", "tf", "torch")
_IMAGENET_MEAN_RGB = (0.485, 0.456, 0.406)
_IMAGENET_STD_RGB = (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class Normalization:
    """``x = (image[..., channel_order] - mean) / std`` on float pixels in [0, 255]."""

    mode: str
    channel_order: str  # "RGB" or "BGR": the order the model's channels are in
    mean: tuple
    std: tuple

    def to_json(self) -> dict:
        return asdict(self)


def normalization(mode: str) -> Normalization:
    """The normalisation of a ``keras.applications`` preprocessing mode, as numbers.

    Example:
        >>> normalization("tf").mean
        (127.5, 127.5, 127.5)
    """
    if mode == "caffe":
        # keras.applications: RGB -> BGR, then the ImageNet mean (BGR order), no scaling.
        return Normalization("caffe", "BGR", (103.939, 116.779, 123.68), (1.0, 1.0, 1.0))
    if mode == "tf":
        return Normalization("tf", "RGB", (127.5,) * 3, (127.5,) * 3)
    if mode == "torch":
        return Normalization(
            "torch",
            "RGB",
            tuple(255.0 * m for m in _IMAGENET_MEAN_RGB),
            tuple(255.0 * s for s in _IMAGENET_STD_RGB),
        )
    raise ValueError(
        f"`preprocessing` must be one of {', '.join(PREPROCESSING_MODES)}. "
        f"Received: preprocessing={mode!r}"
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

    norm = normalization(mode)
    x = tf.cast(images, tf.float32)
    in_channels = x.shape[-1]
    if in_channels is not None and in_channels != channels:
        if in_channels == 1:
            # Grayscale datasets (Fashion-MNIST) feed three-channel models: the
            # same intensity in each channel.
            x = tf.repeat(x, channels, axis=-1)
        else:
            raise ValueError(
                f"Images with {in_channels} channels cannot feed a model taking {channels}; "
                "only 1 -> 3 (grayscale -> RGB) is converted."
            )
    height, width = int(size[0]), int(size[1])
    x = tf.image.resize(x, (height, width), method="bilinear")
    if channels == 3 and norm.channel_order == "BGR":
        x = x[..., ::-1]
    mean = np.asarray(norm.mean[:channels], np.float32)
    std = np.asarray(norm.std[:channels], np.float32)
    return (x - mean) / std


def prepare_numpy(images, *, size, channels, mode, batch_size=256) -> np.ndarray:
    """:func:`prepare` on a NumPy array, in batches; returns float32 NumPy."""
    out = []
    for start in range(0, len(images), batch_size):
        batch = prepare(images[start : start + batch_size], size=size, channels=channels, mode=mode)
        out.append(batch.numpy())
    return np.concatenate(out, axis=0) if out else np.zeros((0, *size, channels), np.float32)


class Preprocessor:
    """The input transform of one export: a mode, or a training pipeline's evaluation path.

    Without ``pipeline``: :func:`prepare` (bilinear resize, grayscale -> RGB, the
    ``mode``'s normalisation). With ``pipeline`` (a name of
    :data:`keras_convnets.data.PIPELINES`): the *evaluation* transform of
    ``keras_convnets.data.make_preprocess``, the very function the training
    recipes validate with (for ``"cifar"``: a smaller image zero-padded to the
    input, minus the per-pixel ``mean_image`` of the training set), applied per
    image. Both run in a TensorFlow graph, so the SavedModel embeds them.

    Example:
        >>> import numpy as np
        >>> p = Preprocessor((32, 32, 3), mode="tf")
        >>> p.numpy(np.zeros((1, 28, 28, 1), "uint8")).shape
        (1, 32, 32, 3)
    """

    def __init__(self, input_shape, *, mode=None, pipeline=None, mean_image=None):
        self.input_shape = tuple(int(d) for d in input_shape)
        self.mode = mode
        self.pipeline = pipeline
        self.mean_image = None if mean_image is None else np.asarray(mean_image, np.float32)
        if pipeline is None:
            normalization(mode)  # validates
            self._fn = None
            return
        from keras_convnets import data

        if mode is not None:
            normalization(mode)
        if self.mean_image is not None and self.mean_image.shape != self.input_shape:
            raise ValueError(
                f"`mean_image` must have the model's input shape {self.input_shape}. "
                f"Received: shape={self.mean_image.shape}"
            )
        self._fn = data.make_preprocess(
            pipeline,
            training=False,
            input_shape=self.input_shape,
            mode=mode,
            mean_image=self.mean_image,
        )

    def __call__(self, images):
        import tensorflow as tf

        if self._fn is None:
            return prepare(
                images, size=self.input_shape[:2], channels=self.input_shape[2], mode=self.mode
            )
        fn = self._fn
        return tf.map_fn(
            lambda image: fn(image, 0)[0],
            tf.convert_to_tensor(images),
            fn_output_signature=tf.TensorSpec(self.input_shape, tf.float32),
        )

    def numpy(self, images, batch_size=256) -> np.ndarray:
        out = [
            np.asarray(self(images[i : i + batch_size])) for i in range(0, len(images), batch_size)
        ]
        return np.concatenate(out, axis=0) if out else np.zeros((0, *self.input_shape), "float32")

    def to_json(self) -> dict:
        if self.pipeline is None:
            return {
                **normalization(self.mode).to_json(),
                "resize": "bilinear",
                "grayscale_to_rgb": "repeat the channel",
                "formula": "x = (image[..., channel_order] - mean) / std, image in [0, 255]",
            }
        return {
            "pipeline": self.pipeline,
            "pipeline_function": "keras_convnets.data.make_preprocess(training=False)",
            "mode": self.mode,
            **(normalization(self.mode).to_json() if self.mode else {}),
            "mean_image": "per-pixel mean of the training set, subtracted"
            if self.mean_image is not None
            else None,
        }

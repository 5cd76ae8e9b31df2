"""The input contract of one export: which transform it embeds, and the raw pixels it takes.

The normalisation itself has one home, :mod:`keras_convnets.data.preprocessing`
(re-exported here for existing callers); the training pipelines' evaluation
transforms live in :func:`keras_convnets.data.make_preprocess`. This module
only composes them for an export:

* :class:`Preprocessor`: a mode or a pipeline, as one TensorFlow function used
  by the SavedModel graph, the representative dataset of int8 conversion and
  the evaluation set of the parity report, so the three cannot drift apart;
* :class:`RawInput`: the uint8 pixels a raw-pixel TFLite file takes (size and
  RGB or grey); :meth:`Preprocessor.single` is the batch-1 transform built into
  that file, and :func:`fit_raw` what a client does to its images before
  (channel conversion and a resize, as MediaPipe Tasks does).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from keras_convnets.data.preprocessing import (  # noqa: F401 - re-exported
    PREPROCESSING_MODES,
    Normalization,
    normalization,
    prepare,
    prepare_numpy,
)


@dataclass(frozen=True)
class RawInput:
    """The pixels a raw-pixel TFLite file takes: uint8 ``[1, height, width, channels]``."""

    height: int
    width: int
    channels: int  # 3: RGB, 1: grey

    def __post_init__(self):
        for name in ("height", "width"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(
                    f"`raw_size` must be two integers >= 1. Received: {name}={value!r}"
                )
        if self.channels not in (1, 3):
            raise ValueError(
                "`raw_channels` must be 1 (grey) or 3 (RGB). "
                f"Received: raw_channels={self.channels!r}"
            )

    @property
    def shape(self):
        return (self.height, self.width, self.channels)

    @property
    def color_space(self):
        return "RGB" if self.channels == 3 else "GRAYSCALE"

    def to_json(self) -> dict:
        return {
            "dtype": "uint8",
            "shape": [1, self.height, self.width, self.channels],
            "color_space": self.color_space,
            "range": [0, 255],
        }


def fit_raw(images, raw: RawInput) -> np.ndarray:
    """uint8 images ``[N, h, w, c]`` -> ``raw``'s shape: grey <-> RGB, then a bilinear resize.

    What a client does before feeding a raw-pixel file (MediaPipe Tasks does
    both itself); images already at the size pass through unchanged.
    """
    import tensorflow as tf

    images = np.asarray(images)
    if images.shape[-1] == 1 and raw.channels == 3:
        images = np.repeat(images, 3, axis=-1)
    elif images.shape[-1] == 3 and raw.channels == 1:
        images = np.asarray(tf.image.rgb_to_grayscale(images))
    if images.shape[1:3] != (raw.height, raw.width):
        resized = tf.image.resize(images.astype(np.float32), (raw.height, raw.width))
        images = np.clip(np.round(np.asarray(resized)), 0, 255)
    return images.astype(np.uint8)


class Preprocessor:
    """The input transform of one export: a mode, or a training pipeline's evaluation path.

    Without ``pipeline``: :func:`prepare` (bilinear resize, grayscale -> RGB, the
    ``mode``'s normalisation). With ``pipeline`` (a name of
    :data:`keras_convnets.data.PIPELINES`): the *evaluation* transform of
    ``keras_convnets.data.make_preprocess``, the very function the training
    recipes validate with (for ``"cifar"``: a smaller image zero-padded to the
    input, minus the per-pixel ``mean_image`` of the training set), applied per
    image. Both run in a TensorFlow graph, so the SavedModel and raw-pixel
    TFLite files embed them.

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

    def single(self, images):
        """The transform of a batch of one image, without a loop (what a TFLite graph embeds)."""
        if self._fn is None:
            return self(images)
        return self._fn(images[0], 0)[0][None]

    def numpy(self, images, batch_size=256) -> np.ndarray:
        out = [
            np.asarray(self(images[i : i + batch_size])) for i in range(0, len(images), batch_size)
        ]
        return np.concatenate(out, axis=0) if out else np.zeros((0, *self.input_shape), "float32")

    def mediapipe_normalization(self):
        """``(mean, std)`` per RGB channel if MediaPipe can apply this transform itself, else None.

        MediaPipe Tasks computes ``(pixel - mean) / std`` on RGB in [0, 255]: it
        cannot reorder channels (``caffe``), subtract a mean image (``cifar``) or
        crop (the ImageNet pipelines).
        """
        if self.pipeline not in (None, "none") or self.mode is None:
            return None
        norm = normalization(self.mode)
        if norm.channel_order != "RGB":
            return None
        channels = self.input_shape[-1]
        return list(norm.mean[:channels]), list(norm.std[:channels])

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

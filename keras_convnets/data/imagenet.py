"""ImageNet input preprocessing and label decoding, as keras.applications does them.

The registry says which mode each model's weights expect
(``model_info(name).preprocessing``): ``"caffe"`` (RGB->BGR, ImageNet mean
subtracted; the hosted ResNet weights), ``"tf"`` (scaled to [-1, 1];
InceptionV3) or ``"torch"`` (scaled to [0, 1], ImageNet mean/std).
"""

from __future__ import annotations

import json
import os

import keras
import numpy as np

from keras_convnets.models import weights

PREPROCESSING_MODES = ("caffe", "tf", "torch")

CLASS_INDEX_URL = (
    "https://storage.googleapis.com/download.tensorflow.org/data/imagenet_class_index.json"
)
CLASS_INDEX_MD5 = "c2c37ea517e94d9795004a39431a14cb"
_class_index: dict | None = None


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
    if not isinstance(mode, str) or mode not in PREPROCESSING_MODES:
        raise ValueError(
            f"`mode` must be one of {', '.join(PREPROCESSING_MODES)}. Received: mode={mode!r}"
        )
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


def _load_class_index(path=None) -> dict:
    global _class_index
    if path is None and _class_index is not None:
        return _class_index
    if path is None:
        url = os.environ.get("KERAS_CONVNETS_CLASS_INDEX_URL", CLASS_INDEX_URL)
        path = weights.download("imagenet_class_index.json", url, CLASS_INDEX_MD5)
        with open(path) as f:
            _class_index = json.load(f)
        return _class_index
    with open(path) as f:
        return json.load(f)


def decode_predictions(preds, top=5, *, class_index_path=None):
    """Turns ImageNet probabilities into ``(wnid, label, score)`` tuples, best first.

    The class index is the file keras.applications uses (fetched once with its
    MD5 checked, then cached), or a local JSON file given as ``class_index_path``.
    """
    preds = np.asarray(keras.ops.convert_to_numpy(preds))
    if preds.ndim != 2 or preds.shape[1] != 1000:
        raise ValueError(
            "`preds` must be a batch of ImageNet predictions of shape (samples, 1000). "
            f"Received: shape={preds.shape}"
        )
    if isinstance(top, bool) or not isinstance(top, int) or not 1 <= top <= 1000:
        raise ValueError(f"`top` must be an integer in [1, 1000]. Received: top={top!r}")
    if not np.all(np.isfinite(preds)):
        bad = int(np.sum(~np.isfinite(preds).all(axis=1)))
        raise ValueError(
            f"`preds` must be finite: {bad} of {len(preds)} rows hold NaN or infinity "
            "(a diverged model?)."
        )
    index = _load_class_index(class_index_path)
    missing = [str(i) for i in range(preds.shape[1]) if str(i) not in index]
    if missing:
        raise ValueError(
            f"The class index ({class_index_path or 'the ImageNet index'}) has {len(index)} "
            f"entries, not 1000: classes {missing[:3]} ... are missing."
        )
    results = []
    for row in preds:
        best = np.argsort(row)[::-1][:top]
        results.append([(*index[str(i)], float(row[i])) for i in best])
    return results

"""ImageNet label decoding, as keras.applications does it; ``preprocess_input`` re-exported.

Input normalisation lives in :mod:`keras_convnets.data.preprocessing`. The registry says
which mode each model's weights expect
(``model_info(name).preprocessing``): ``"caffe"`` (RGB->BGR, ImageNet mean
subtracted; the hosted ResNet weights), ``"tf"`` (scaled to [-1, 1];
InceptionV3) or ``"torch"`` (scaled to [0, 1], ImageNet mean/std).
"""

from __future__ import annotations

import json
import os

import keras
import numpy as np

from keras_convnets.data.preprocessing import PREPROCESSING_MODES, preprocess_input  # noqa: F401
from keras_convnets.models.pretrained import download

CLASS_INDEX_URL = (
    "https://storage.googleapis.com/download.tensorflow.org/data/imagenet_class_index.json"
)
CLASS_INDEX_MD5 = "c2c37ea517e94d9795004a39431a14cb"
_class_index: dict | None = None


def _load_class_index(path=None) -> dict:
    global _class_index
    if path is None and _class_index is not None:
        return _class_index
    if path is None:
        url = os.environ.get("KERAS_CONVNETS_CLASS_INDEX_URL", CLASS_INDEX_URL)
        path = download.fetch_file(
            "imagenet_class_index.json", url, md5=CLASS_INDEX_MD5, home_url=CLASS_INDEX_URL
        )
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

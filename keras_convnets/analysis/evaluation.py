"""Evaluation as the papers did it: centre crop, 10 crops, GoogLeNet's 144 crops, ensembles.

* :func:`center_crop`: one centre crop, after resizing the shorter side.
* :func:`ten_crops`: the 4 corners and the centre, and their horizontal
  mirrors (AlexNet's protocol, used for ResNet's "10-crop testing").
* :func:`googlenet_144_crops`: Szegedy et al. 2014, section 7: the shorter
  side resized to 256, 288, 320 and 352; the left, centre and right squares
  (top, centre and bottom for portrait images); for each square the 4 corner
  and the centre 224x224 crops and the whole square resized to 224, and their
  mirrors: 4 x 3 x 6 x 2 = 144 crops.
* :func:`evaluate`: averages the softmax probabilities over the crops and
  over the models of an ensemble (GoogLeNet Table 3: 1 or 7 models x 1, 10 or
  144 crops) and reports top-k accuracy and error.

Images are float (or integer) arrays ``[N, H, W, C]``, or one image
``[H, W, C]``; every function accepts both and returns crops in a fixed,
documented order so that tests (and users) can tell which region each crop is.
Resizing is bilinear without antialiasing (``tf.image.resize``'s default, and
what the Keras preprocessing layers do); the resized size of the longer side is
``round(longer * target / shorter)``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import tensorflow as tf

CROP_MODES = ("center", "10", "144")
GOOGLENET_SCALES = (256, 288, 320, 352)
# The 5 crops of a square, in the order every function returns them.
CORNERS_AND_CENTER = ("top_left", "top_right", "bottom_left", "bottom_right", "center")
_ARRAY_SLICE = 256  # images per slice when `dataset` is a pair of arrays


def _as_batch(images, argument="images"):
    """``(float32 tensor [N, H, W, C], was_single_image)``."""
    x = tf.convert_to_tensor(images)
    if x.shape.rank == 3:
        x, single = x[None], True
    elif x.shape.rank == 4:
        single = False
    else:
        raise ValueError(
            f"`{argument}` must be one image [H, W, C] or a batch [N, H, W, C]. "
            f"Received: shape={tuple(x.shape)}"
        )
    if x.dtype != tf.float32:
        x = tf.cast(x, tf.float32)
    return x, single


def _check_size(size, argument="size"):
    if isinstance(size, (bool, np.bool_)) or not isinstance(size, (int, np.integer)) or size < 1:
        raise ValueError(f"`{argument}` must be an integer >= 1. Received: {argument}={size!r}")
    return int(size)


def _check_fits(size, height, width, argument="size"):
    if size > height or size > width:
        raise ValueError(
            f"`{argument}` must be at most the image's shorter side {min(height, width)} "
            f"(image height x width = {height} x {width}). Received: {argument}={size}"
        )


def _resized_shape(height, width, shorter):
    """The ``(height, width)`` after resizing the shorter side to ``shorter``."""
    if height <= width:
        return shorter, max(shorter, int(round(width * shorter / height)))
    return max(shorter, int(round(height * shorter / width))), shorter


def resize_shorter_side(images, shorter):
    """Resizes so that the shorter side is ``shorter``, keeping the aspect ratio.

    Example:
        >>> import numpy as np
        >>> resize_shorter_side(np.zeros((2, 30, 60, 3)), 10).shape
        TensorShape([2, 10, 20, 3])
    """
    shorter = _check_size(shorter, "resize")
    x, single = _as_batch(images)
    height, width = int(x.shape[1]), int(x.shape[2])
    new = _resized_shape(height, width, shorter)
    if new != (height, width):
        # Identity resizes are skipped so that "no resize" is bit-exact.
        x = tf.image.resize(x, new, method="bilinear")
    return x[0] if single else x


def _crop(x, top, left, size):
    return x[:, top : top + size, left : left + size, :]


def _five_crops(x, size):
    """``[N, 5, size, size, C]``: the 4 corners and the centre, in CORNERS_AND_CENTER order."""
    height, width = int(x.shape[1]), int(x.shape[2])
    bottom, right = height - size, width - size
    offsets = [(0, 0), (0, right), (bottom, 0), (bottom, right), (bottom // 2, right // 2)]
    return tf.stack([_crop(x, t, l, size) for t, l in offsets], axis=1)


def _mirror(crops):
    """Horizontal mirror of ``[..., H, W, C]`` crops."""
    return tf.reverse(crops, axis=[-2])


def center_crop(images, size, *, resize=None):
    """The centre ``size x size`` crop, after resizing the shorter side to ``resize``.

    ``resize=None`` crops the images as they are. With an odd margin the
    extra pixel goes to the bottom/right (offset ``(H - size) // 2``).

    Example:
        >>> import numpy as np
        >>> center_crop(np.zeros((4, 300, 400, 3)), 224, resize=256).shape
        TensorShape([4, 224, 224, 3])
    """
    size = _check_size(size)
    x, single = _as_batch(images)
    if resize is not None:
        x = resize_shorter_side(x, resize)
    height, width = int(x.shape[1]), int(x.shape[2])
    _check_fits(size, height, width)
    out = _crop(x, (height - size) // 2, (width - size) // 2, size)
    return out[0] if single else out


def ten_crops(image_or_batch, size, *, resize=None):
    """The ResNet/AlexNet 10 crops: 4 corners + centre, then the same 5 mirrored.

    Returns ``[10, size, size, C]`` for one image, ``[N, 10, size, size, C]``
    for a batch. Order: top-left, top-right, bottom-left, bottom-right, centre,
    then their horizontal mirrors in the same order.

    Example:
        >>> import numpy as np
        >>> ten_crops(np.zeros((256, 340, 3)), 224).shape
        TensorShape([10, 224, 224, 3])
    """
    size = _check_size(size)
    x, single = _as_batch(image_or_batch, "image_or_batch")
    if resize is not None:
        x = resize_shorter_side(x, resize)
    _check_fits(size, int(x.shape[1]), int(x.shape[2]))
    five = _five_crops(x, size)
    out = tf.concat([five, _mirror(five)], axis=1)
    return out[0] if single else out


def _check_scales(scales, size):
    if isinstance(scales, (int, np.integer)) or not isinstance(scales, Sequence) or not scales:
        raise ValueError(
            "`scales` must be a non-empty sequence of integers >= `size`. "
            f"Received: scales={scales!r}"
        )
    for s in scales:
        if isinstance(s, bool) or not isinstance(s, (int, np.integer)) or s < size:
            raise ValueError(
                f"`scales` must be a non-empty sequence of integers >= size={size} (a crop "
                f"must fit in the square). Received: scales={tuple(scales)!r}"
            )
    return tuple(int(s) for s in scales)


def googlenet_144_crops(image, size=224, scales=GOOGLENET_SCALES):
    """GoogLeNet's multi-crop: ``len(scales) x 3 squares x 6 crops x 2 mirrors`` (144).

    For each scale (the shorter side resized to it), the 3 squares of side
    ``scale`` are left, centre, right (landscape or square image) or top,
    centre, bottom (portrait). For each square, the 6 crops are the 4 corners
    and the centre ``size x size`` crop (CORNERS_AND_CENTER order) and the whole
    square resized to ``size``; then the 6 mirrored. Returns
    ``[144, size, size, C]`` for one image (``[N, 144, ...]`` for a batch),
    ordered scale, square, mirror, crop: index
    ``((scale_i * 3 + square_i) * 2 + mirrored) * 6 + crop_i``.

    A square image gives three identical squares; they are kept so that
    every image costs the same 144 crops, as in the paper's Table 3.

    Example:
        >>> import numpy as np
        >>> googlenet_144_crops(np.zeros((60, 80, 3)), size=28, scales=(32, 36, 40, 44)).shape
        TensorShape([144, 28, 28, 3])
    """
    size = _check_size(size)
    scales = _check_scales(scales, size)
    x, single = _as_batch(image, "image")
    height, width = int(x.shape[1]), int(x.shape[2])
    groups = []
    for scale in scales:
        resized = resize_shorter_side(x, scale)
        new_h, new_w = int(resized.shape[1]), int(resized.shape[2])
        longer = max(new_h, new_w)
        for offset in (0, (longer - scale) // 2, longer - scale):
            if height <= width:  # landscape (or square): left, centre, right
                square = resized[:, :, offset : offset + scale, :]
            else:  # portrait: top, centre, bottom
                square = resized[:, offset : offset + scale, :, :]
            whole = square if scale == size else tf.image.resize(square, (size, size))
            six = tf.concat([_five_crops(square, size), whole[:, None]], axis=1)
            groups.extend([six, _mirror(six)])
    out = tf.concat(groups, axis=1)
    return out[0] if single else out


def crops_per_image(crops, scales=None) -> int:
    """How many crops a mode takes per image: 1, 10, or 144 (36 per scale).

    Example:
        >>> crops_per_image("10"), crops_per_image("144"), crops_per_image("144", (256, 288))
        (10, 144, 72)
    """
    mode = _check_crops(crops)
    if mode == "144":
        return 3 * 6 * 2 * (len(GOOGLENET_SCALES) if scales is None else len(scales))
    return {"center": 1, "10": 10}[mode]


def _check_crops(crops):
    key = str(crops).lower()
    key = {"1": "center", "centre": "center"}.get(key, key)
    if key not in CROP_MODES:
        raise ValueError(
            f"`crops` must be one of {', '.join(repr(m) for m in CROP_MODES)}. "
            f"Received: crops={crops!r}"
        )
    return key


def _check_top_k(top_k):
    ks = top_k
    if isinstance(ks, (int, np.integer)) and not isinstance(ks, bool):
        ks = (ks,)
    ok = isinstance(ks, Sequence) and not isinstance(ks, str) and len(ks) > 0
    if ok:
        ok = all(
            isinstance(k, (int, np.integer)) and not isinstance(k, bool) and k >= 1 for k in ks
        )
    if not ok or len(set(ks)) != len(ks):
        raise ValueError(
            "`top_k` must be an integer >= 1 or a non-empty sequence of distinct integers >= 1, "
            f"e.g. (1, 5). Received: top_k={top_k!r}"
        )
    return tuple(int(k) for k in ks)


def _outputs_probabilities(model) -> bool:
    """Whether the model's output layer already applies a softmax."""
    tensor = model.outputs[0]
    layer = tensor._keras_history[0]
    if type(layer).__name__ == "Softmax":
        return True
    activation = getattr(layer, "activation", None)
    return getattr(activation, "__name__", None) == "softmax"


def _prepare_models(models):
    from keras_convnets.models.heads import inference_model

    if models is None or isinstance(models, (str, bytes)):
        raise ValueError(f"`models` must be a Keras model or a list of them. Received: {models!r}")
    if not isinstance(models, (list, tuple)):
        models = [models]
    if not models:
        raise ValueError("`models` must be a Keras model or a non-empty list of them. Received: []")
    prepared = []
    for m in models:
        if not hasattr(m, "outputs") or not hasattr(m, "input_shape"):
            raise ValueError(
                f"`models` must be Keras models (or a list of them). Received: {type(m).__name__}"
            )
        # Only the main head is evaluated: aux heads of GoogLeNet/Inception v3
        # are training aids and the papers' figures are the main classifier's.
        prepared.append(inference_model(m))
    return prepared


def _predictor(model):
    """The model's inference call as one graph whose batch size may vary.

    ``predict_on_batch`` retraces for every new batch size (the last batch of
    each flush differs); ``reduce_retracing`` relaxes the batch dimension after
    the second size, so an evaluation traces at most twice per model.
    """
    return tf.function(lambda x: model(x, training=False), reduce_retracing=True)


def _check_model_size(models, size):
    """The crop size: ``size``, or the models' fixed square input size (which must agree)."""
    if size is not None:
        size = _check_size(size)
    fixed = {tuple(m.input_shape)[1:3] for m in models} - {(None, None)}
    if len(fixed) > 1:
        raise ValueError(
            "The models of an ensemble must take the same input size. "
            f"Received input sizes (height, width): {sorted(fixed, key=str)}"
        )
    if fixed:
        height, width = fixed.pop()
        if height != width or height is None:
            raise ValueError(
                "The crops are square: the models' input must be a square or fully dynamic. "
                f"Received input (height, width)=({height}, {width})"
            )
        if size is not None and size != height:
            raise ValueError(
                f"`size` must be the models' input size {height} (or None). Received: size={size}"
            )
        return int(height)
    if size is None:
        raise ValueError(
            "`size` is needed when the models' input size is dynamic. Received: size=None"
        )
    return size


def _iterate(dataset):
    """Yields ``(images, labels)`` with images rank 3 or 4, as NumPy/tensors."""
    if isinstance(dataset, tuple) and len(dataset) == 2 and not isinstance(dataset[0], tuple):
        images, labels = dataset
        if len(tf.convert_to_tensor(images[:1]).shape) == 3:  # one image
            yield images, labels
            return
        # Arrays are converted to float a slice at a time, not all at once.
        for start in range(0, len(images), _ARRAY_SLICE):
            yield images[start : start + _ARRAY_SLICE], labels[start : start + _ARRAY_SLICE]
        return
    for element in dataset:
        if not isinstance(element, (tuple, list)) or len(element) < 2:
            raise ValueError(
                "`dataset` must yield (images, labels) pairs (extra items are ignored). "
                f"Received an element of type {type(element).__name__}"
            )
        yield element[0], element[1]


def _labels_to_indices(labels, count):
    y = np.asarray(labels.numpy() if hasattr(labels, "numpy") else labels)
    if y.ndim == 0:
        y = y[None]
    if y.ndim == 2:  # one-hot (or soft) targets
        y = y.argmax(axis=-1)
    elif y.ndim != 1:
        raise ValueError(
            "`dataset` labels must be class indices [N] or one-hot [N, classes]. "
            f"Received labels of shape {y.shape}"
        )
    if len(y) != count:
        raise ValueError(f"`dataset` gave {count} images but {len(y)} labels in one element.")
    return y.astype(np.int64)


def _resolve_preprocess(preprocess):
    if preprocess is None:
        return None
    if isinstance(preprocess, str):
        from keras_convnets.data.imagenet import PREPROCESSING_MODES, preprocess_input

        if preprocess not in PREPROCESSING_MODES:
            raise ValueError(
                f"`preprocess` must be a callable, None or one of "
                f"{', '.join(PREPROCESSING_MODES)}. Received: preprocess={preprocess!r}"
            )
        mode = preprocess
        return lambda x: preprocess_input(x, mode=mode)
    if not callable(preprocess):
        raise ValueError(
            f"`preprocess` must be a callable, None or a mode name. Received: {preprocess!r}"
        )
    return preprocess


def default_scales(size):
    """GoogLeNet's scales (256, 288, 320, 352) in proportion to a crop ``size`` other than 224.

    Example:
        >>> default_scales(224), default_scales(28)
        ((256, 288, 320, 352), (32, 36, 40, 44))
    """
    size = _check_size(size)
    return tuple(int(round(s * size / 224)) for s in GOOGLENET_SCALES)


def evaluate(
    models,
    dataset,
    crops="center",
    top_k=(1, 5),
    preprocess: Callable | str | None = None,
    *,
    size: int | None = None,
    resize: int | None = None,
    scales: Sequence[int] | None = None,
    batch_size: int = 64,
    max_images: int | None = None,
    from_logits: bool | None = None,
) -> dict:
    """Top-k accuracy of a model or an ensemble, averaging softmax over crops and models.

    Args:
        models: a Keras model or a list of them (an ensemble). Multi-output
            models are evaluated on their main head (``heads.inference_model``).
        dataset: ``(images, labels)`` arrays, or an iterable (``tf.data``) of
            ``(images, labels[, ...])`` where images are ``[N, H, W, C]`` or one
            ``[H, W, C]`` image (sizes may differ between elements) and labels
            class indices or one-hot rows.
        crops: ``"center"`` (1 crop), ``"10"`` (:func:`ten_crops`) or
            ``"144"`` (:func:`googlenet_144_crops`; 36 crops per scale).
        top_k: the k's to report, e.g. ``(1, 5)``. A label counts as in the
            top k when fewer than k classes have a strictly higher probability
            (``tf.math.in_top_k``'s rule for ties).
        preprocess: applied to the float crops before the model: a callable,
            ``None`` (nothing) or a ``keras.applications`` mode (``"caffe"``,
            ``"tf"``, ``"torch"``).
        size: the crop size; by default the models' (square) input size.
        resize: for ``"center"`` and ``"10"``: the shorter side is resized to
            this first (ResNet: 256 for 224 crops); ``None`` keeps the images.
        scales: for ``"144"``; by default GoogLeNet's (256, 288, 320, 352)
            in proportion to ``size`` (:func:`default_scales`).
        batch_size: crops per forward pass; crops are made for a few images at
            a time, so memory stays near ``2 * batch_size`` crops.
        max_images: stop after this many images.
        from_logits: whether the models output logits (softmax is then
            applied); ``None`` reads it from the output layer's activation.

    Returns:
        A dict: ``top{k}_accuracy`` and ``top{k}_error`` for each k (fractions),
        ``images``, ``crops`` (the mode), ``crops_per_image``, ``models`` and
        ``cost`` (models x crops per image, as in GoogLeNet's Table 3).

    Example:
        >>> import keras, numpy as np
        >>> inputs = keras.Input((8, 8, 1))
        >>> x = keras.layers.GlobalAveragePooling2D()(inputs)
        >>> model = keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(x))
        >>> result = evaluate(model, (np.zeros((4, 8, 8, 1)), np.zeros(4)), top_k=(1, 3))
        >>> result["images"], result["top3_accuracy"], result["cost"]
        (4, 1.0, 1)
    """
    mode = _check_crops(crops)
    ks = _check_top_k(top_k)
    if max_images is not None:
        max_images = _check_size(max_images, "max_images")
    counts = dict.fromkeys(ks, 0)
    images = 0
    stream = _probabilities_stream(
        models,
        _limited(_iterate(dataset), max_images),
        mode=mode,
        size=size,
        resize=resize,
        scales=scales,
        preprocess=preprocess,
        batch_size=batch_size,
        from_logits=from_logits,
    )
    for probs, labels in stream:
        classes = probs.shape[-1]
        if max(ks) > classes:
            raise ValueError(
                f"`top_k` must be at most the number of classes {classes}. Received: top_k={ks}"
            )
        if labels.min() < 0 or labels.max() >= classes:
            raise ValueError(
                f"`dataset` labels must be in [0, {classes}). Received labels "
                f"from {labels.min()} to {labels.max()}"
            )
        label_probs = probs[np.arange(len(labels)), labels]
        rank = (probs > label_probs[:, None]).sum(axis=-1)
        for k in ks:
            counts[k] += int((rank < k).sum())
        images += len(labels)
    if images == 0:
        raise ValueError("`dataset` gave no images to evaluate.")
    n_models = len(models) if isinstance(models, (list, tuple)) else 1
    per_image = crops_per_image(mode, scales)
    result = {"crops": mode, "images": images}
    for k in ks:
        result[f"top{k}_accuracy"] = counts[k] / images
        result[f"top{k}_error"] = 1.0 - counts[k] / images
    result.update(crops_per_image=per_image, models=n_models, cost=n_models * per_image)
    return result


def predict_probabilities(
    models,
    images,
    crops="center",
    preprocess: Callable | str | None = None,
    *,
    size: int | None = None,
    resize: int | None = None,
    scales: Sequence[int] | None = None,
    batch_size: int = 64,
    from_logits: bool | None = None,
) -> np.ndarray:
    """Softmax probabilities ``[N, classes]`` averaged over crops and models.

    The arguments are those of :func:`evaluate`; ``images`` is one batch
    ``[N, H, W, C]`` (or one image, giving ``[1, classes]``).

    Example:
        >>> import keras, numpy as np
        >>> inputs = keras.Input((8, 8, 1))
        >>> x = keras.layers.GlobalAveragePooling2D()(inputs)
        >>> model = keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(x))
        >>> predict_probabilities([model, model], np.zeros((2, 10, 10, 1)), "10").shape
        (2, 3)
    """
    x, _ = _as_batch(images)
    labels = np.zeros(int(x.shape[0]), np.int64)
    stream = _probabilities_stream(
        models,
        [(x, labels)],
        mode=_check_crops(crops),
        size=size,
        resize=resize,
        scales=scales,
        preprocess=preprocess,
        batch_size=batch_size,
        from_logits=from_logits,
    )
    return np.concatenate([probs for probs, _ in stream])


def _limited(pairs, max_images):
    """The ``(x, y)`` pairs, cut after ``max_images`` images."""
    seen = 0
    for images, labels in pairs:
        if max_images is not None and seen >= max_images:
            return
        x, _ = _as_batch(images, "dataset images")
        y = _labels_to_indices(labels, int(x.shape[0]))
        if max_images is not None:
            x, y = x[: max_images - seen], y[: max_images - seen]
        seen += int(x.shape[0])
        yield x, y


def _probabilities_stream(
    models, pairs, *, mode, size, resize, scales, preprocess, batch_size, from_logits
):
    """Yields ``(probabilities [P, classes], labels [P])`` in dataset order."""
    models = _prepare_models(models)
    preprocess = _resolve_preprocess(preprocess)
    size = _check_model_size(models, size)
    batch_size = _check_size(batch_size, "batch_size")
    if resize is not None:
        resize = _check_size(resize, "resize")
        if resize < size:
            raise ValueError(
                f"`resize` must be at least `size`={size} so that the crop fits. "
                f"Received: resize={resize}"
            )
    if mode == "144":
        scales = default_scales(size) if scales is None else _check_scales(scales, size)
    per_image = crops_per_image(mode, scales)
    logits = [
        (not _outputs_probabilities(m)) if from_logits is None else bool(from_logits)
        for m in models
    ]
    models = [_predictor(m) for m in models]

    def make_crops(x):
        if mode == "center":
            return center_crop(x, size, resize=resize)[:, None]
        if mode == "10":
            return ten_crops(x, size, resize=resize)
        return googlenet_144_crops(x, size, scales)

    def run(pending_crops, pending_labels):
        batch = tf.concat(pending_crops, axis=0)  # [P, K, s, s, C]
        labels = np.concatenate(pending_labels)
        flat = tf.reshape(batch, (-1, *batch.shape[2:]))
        if preprocess is not None:
            flat = preprocess(flat)
        total = None
        for model, is_logits in zip(models, logits):
            outs = []
            for start in range(0, int(flat.shape[0]), batch_size):
                out = model(flat[start : start + batch_size])
                outs.append(np.asarray(out, dtype=np.float64))
            out = np.concatenate(outs)
            if is_logits:
                out = np.exp(out - out.max(axis=-1, keepdims=True))
                out /= out.sum(axis=-1, keepdims=True)
            # Probabilities, not logits, are averaged: GoogLeNet section 7.
            probs = out.reshape(len(labels), per_image, -1).mean(axis=1)
            total = probs if total is None else total + probs
        return total / len(models), labels

    # Crops are made for `group` images at a time and sent to the models in
    # batches of `batch_size`, so 144 crops of 224x224 never fill the memory.
    group = max(1, batch_size // per_image)
    pending_crops, pending_labels, pending = [], [], 0
    for x, y in pairs:
        for start in range(0, int(x.shape[0]), group):
            pending_crops.append(make_crops(x[start : start + group]))
            pending_labels.append(y[start : start + group])
            pending += int(pending_crops[-1].shape[0]) * per_image
            if pending >= batch_size:
                yield run(pending_crops, pending_labels)
                pending_crops, pending_labels, pending = [], [], 0
    if pending_crops:
        yield run(pending_crops, pending_labels)

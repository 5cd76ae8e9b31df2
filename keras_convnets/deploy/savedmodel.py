"""The serving SavedModel: uint8 images of any size in, probabilities and top-k out.

Signature ``serving_default``:

* input ``images``: ``uint8 [None, None, None, C]`` (any batch, height and
  width; ``C`` the model's channels: a grayscale client repeats its channel);
* outputs ``probabilities`` ``float32 [None, classes]``, ``top_k_classes``
  ``int32 [None, k]``, ``top_k_probabilities`` ``float32 [None, k]`` and, when
  labels are given, ``top_k_labels`` ``string [None, k]``.

Resizing and normalisation run inside the graph
(:func:`keras_convnets.deploy.preprocessing.prepare`), so a client sends raw
pixels.
"""

from __future__ import annotations

SIGNATURE = "serving_default"
INPUT_NAME = "images"


def write_serving_savedmodel(model, directory, *, preprocessing, labels=None, top_k=5, fold=True):
    """Writes the serving SavedModel of a single-output Keras 3 ``model`` to ``directory``.

    ``preprocessing``: a mode name (``"caffe"``, ``"tf"``, ``"torch"``) or a
    :class:`keras_convnets.deploy.preprocessing.Preprocessor`. ``fold``: serve
    :func:`keras_convnets.optimize_for_inference` of ``model`` (batch
    normalisation folded into the convolutions, ReLU fused); ``False`` keeps
    the layers as they are (for debugging).

    Example:
        >>> import tempfile, numpy as np, tensorflow as tf
        >>> from keras_convnets.models import resnet
        >>> d = tempfile.mkdtemp()
        >>> write_serving_savedmodel(resnet.ResNet20(), d, preprocessing="caffe", top_k=3)
        >>> f = tf.saved_model.load(d).signatures["serving_default"]
        >>> tuple(f(images=tf.zeros((2, 28, 28, 3), tf.uint8))["top_k_classes"].shape)
        (2, 3)
    """
    import keras
    import tensorflow as tf

    from keras_convnets.deploy.preprocessing import Preprocessor

    height, width, channels = model.input_shape[1:]
    if not isinstance(preprocessing, Preprocessor):
        # A mode name (validated here, before any work).
        preprocessing = Preprocessor((height, width, channels), mode=preprocessing)
    classes = int(model.output_shape[-1])
    if isinstance(top_k, bool) or not isinstance(top_k, int) or not 1 <= top_k <= classes:
        raise ValueError(f"`top_k` must be an integer in [1, {classes}]. Received: top_k={top_k!r}")
    if labels is not None and len(labels) != classes:
        raise ValueError(
            f"`labels` must give one name per class ({classes}). Received {len(labels)} labels."
        )
    label_table = None if labels is None else tf.constant([str(s) for s in labels])
    if fold:
        from keras_convnets.models.inference import optimize_for_inference

        model = optimize_for_inference(model)

    def serve(images):
        x = preprocessing(images)
        probs = model(x, training=False)
        top = tf.math.top_k(probs, k=top_k)
        out = {
            "probabilities": probs,
            "top_k_classes": top.indices,
            "top_k_probabilities": top.values,
        }
        if label_table is not None:
            out["top_k_labels"] = tf.gather(label_table, top.indices)
        return out

    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.add_endpoint(
        SIGNATURE,
        serve,
        input_signature=[tf.TensorSpec([None, None, None, channels], tf.uint8, name=INPUT_NAME)],
    )
    archive.write_out(directory, verbose=False)


class SavedModelRunner:
    """Calls the serving signature; ``predict`` takes uint8 images and returns probabilities."""

    def __init__(self, directory):
        import tensorflow as tf

        self.loaded = tf.saved_model.load(directory)
        self.fn = self.loaded.signatures[SIGNATURE]

    def __call__(self, images):
        import tensorflow as tf

        return {k: v.numpy() for k, v in self.fn(**{INPUT_NAME: tf.constant(images)}).items()}

    def predict(self, images, batch_size=256):
        import numpy as np

        out = [
            self(images[i : i + batch_size])["probabilities"]
            for i in range(0, len(images), batch_size)
        ]
        return np.concatenate(out, axis=0)

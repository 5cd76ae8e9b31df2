"""Quantization-aware training (tensorflow-model-optimization) and int8 conversion.

tfmot quantizes tf_keras models only, so the Keras 3 model is rebuilt as its
tf_keras twin (:func:`keras_convnets.models.twin.tf_keras_twin`, weights copied; the
outputs are checked equal to 1e-5 before anything else), annotated, wrapped by
``quantize_apply``, fine-tuned for a few steps and converted.

Importing tfmot in the same process as Keras 3 works: the ``keras`` module stays
Keras 3. What the import does change is ``os.environ["TF_USE_LEGACY_KERAS"]``
(tfmot sets it to ``"1"`` so that ``tf.keras`` resolves to tf_keras). That is
harmless for this package, which never uses ``tf.keras``, but it would leak
into child processes, so :func:`import_tfmot` imports tfmot lazily (only for
QAT) and restores the variable afterwards.

Custom layers: tfmot's default registry knows the built-in layers (including
``MaxPooling2D`` 1x1/2, ``Concatenate``, ``Add``). This package's own layers
get a :class:`NoOpQuantizeConfig` (ChannelPadding only appends zero channels:
its output needs no quantizer of its own, the converter gives the int8 Pad the
input's scale) or :class:`OutputQuantizeConfig` (layers that compute new
values, such as local response normalisation: a moving-average quantizer on
the output gives the converter the range it needs). Batch norms that follow no
convolution (pre-activation units) get :class:`OutputQuantizeConfig` too
(:func:`standalone_batch_norms`).
"""

from __future__ import annotations

import contextlib
import functools
import os
import tempfile

import numpy as np

# Layers that only move or copy values: no quantizer of their own.
PASS_THROUGH_LAYERS = ("ChannelPadding",)


@functools.cache
def import_tfmot():
    """Imports tensorflow_model_optimization without leaking ``TF_USE_LEGACY_KERAS``."""
    before = os.environ.get("TF_USE_LEGACY_KERAS")
    try:
        import tensorflow_model_optimization as tfmot
    finally:
        if before is None:
            os.environ.pop("TF_USE_LEGACY_KERAS", None)
        else:
            os.environ["TF_USE_LEGACY_KERAS"] = before
    return tfmot


@functools.cache
def quantize_configs():
    """``(NoOpQuantizeConfig, OutputQuantizeConfig)``, built on first use (tfmot is lazy)."""
    tfmot = import_tfmot()
    base = tfmot.quantization.keras.QuantizeConfig
    quantizers = tfmot.quantization.keras.quantizers

    class NoOpQuantizeConfig(base):
        """No weight, activation or output quantizers (value-preserving layers)."""

        def get_weights_and_quantizers(self, layer):
            return []

        def get_activations_and_quantizers(self, layer):
            return []

        def set_quantize_weights(self, layer, quantize_weights):
            pass

        def set_quantize_activations(self, layer, quantize_activations):
            pass

        def get_output_quantizers(self, layer):
            return []

        def get_config(self):
            return {}

    class OutputQuantizeConfig(NoOpQuantizeConfig):
        """Quantizes only the output (8 bit, asymmetric, moving-average range)."""

        def get_output_quantizers(self, layer):
            return [
                quantizers.MovingAverageQuantizer(
                    num_bits=8, per_axis=False, symmetric=False, narrow_range=False
                )
            ]

    return NoOpQuantizeConfig, OutputQuantizeConfig


def _custom_classes(model):
    return {type(layer).__name__: type(layer) for layer in model.layers if _is_custom(layer)}


def _is_custom(layer):
    return type(layer).__module__.startswith("keras_convnets")


def standalone_batch_norms(model) -> set:
    """Names of the BatchNormalization layers that follow no convolution or dense layer.

    tfmot's default registry quantizes a BN only when it folds into the layer
    before it; pre-activation networks (ResNet v2: ``*_preact_bn`` after an
    addition or a pooling, ``post_bn``) have BNs of their own. Those get an
    :class:`OutputQuantizeConfig`: trained in float, their output range learned
    (the converter makes them an int8 multiply and add).
    """
    names = set()
    for layer in model.layers:
        if type(layer).__name__ != "BatchNormalization":
            continue
        inbound = layer._inbound_nodes[0].inbound_layers
        before = inbound[0] if isinstance(inbound, (list, tuple)) else inbound
        if type(before).__name__ not in ("Conv2D", "DepthwiseConv2D", "Dense"):
            names.add(layer.name)
    return names


def annotate(twin):
    """The tf_keras ``twin`` with every layer annotated; custom layers get our configs."""
    tfmot = import_tfmot()
    import tf_keras

    qk = tfmot.quantization.keras
    noop, output = quantize_configs()
    standalone = standalone_batch_norms(twin)

    def wrap(layer):
        if layer.name in standalone:
            return qk.quantize_annotate_layer(layer, output())
        if _is_custom(layer):
            config = noop() if type(layer).__name__ in PASS_THROUGH_LAYERS else output()
            return qk.quantize_annotate_layer(layer, config)
        return qk.quantize_annotate_layer(layer)

    return tf_keras.models.clone_model(twin, clone_function=wrap)


def scope(twin):
    """``quantize_scope`` knowing our configs and custom layers (for apply and reload)."""
    tfmot = import_tfmot()
    noop, output = quantize_configs()
    objects = {"NoOpQuantizeConfig": noop, "OutputQuantizeConfig": output}
    objects.update(_custom_classes(twin))
    return tfmot.quantization.keras.quantize_scope(objects)


def check_twin(model, twin, sample, *, atol=1e-5):
    """Raises ``ValueError`` if the twin's outputs differ from ``model``'s by more than ``atol``."""
    ours = np.asarray(model(sample, training=False))
    theirs = np.asarray(twin(sample, training=False))
    diff = float(np.abs(ours - theirs).max())
    if not diff <= atol:
        raise ValueError(
            f"The tf_keras twin of {model.name!r} differs from it by {diff:.3g} (> {atol}) on the "
            "check images: its weights did not copy exactly; refusing to quantize."
        )
    return diff


def quantize_model(model, *, arch=None, check_images=None, **build_kwargs):
    """The tfmot QAT model of a Keras 3 ``model``'s main output (via its checked tf_keras twin).

    Example:
        >>> from keras_convnets.models import resnet
        >>> q = quantize_model(resnet.ResNet20(input_shape=(32, 32, 3)))
        >>> q.output_shape
        (None, 10)
    """
    from keras_convnets.models import heads
    from keras_convnets.models import twin as twin_lib

    tfmot = import_tfmot()
    # The twin is built from the full model (auxiliary heads included: weights are
    # matched layer by layer), then cut to its main output like the model itself.
    twin = heads.inference_model(twin_lib.tf_keras_twin(model, arch, **build_kwargs))
    model = heads.inference_model(model)
    if check_images is None:
        check_images = np.random.default_rng(0).normal(size=(4, *model.input_shape[1:]))
    check_twin(model, twin, np.asarray(check_images, np.float32))
    annotated = annotate(twin)
    with scope(twin):
        return tfmot.quantization.keras.quantize_apply(annotated)


def fine_tune(qat_model, images, labels, *, steps=100, batch_size=32, learning_rate=1e-4, seed=0):
    """``steps`` optimizer steps on normalised ``images`` (sparse labels); returns the loss."""
    import tensorflow as tf
    import tf_keras

    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 0:
        raise ValueError(f"`steps` must be an integer >= 0. Received: steps={steps!r}")
    if steps == 0:
        return None
    qat_model.compile(
        optimizer=tf_keras.optimizers.Adam(learning_rate),
        loss=tf_keras.losses.SparseCategoricalCrossentropy(),
    )
    ds = (
        tf.data.Dataset.from_tensor_slices((np.asarray(images, np.float32), np.asarray(labels)))
        .shuffle(len(images), seed=seed)
        .repeat()
        .batch(batch_size)
    )
    history = qat_model.fit(ds, steps_per_epoch=steps, epochs=1, verbose=0)
    return float(history.history["loss"][-1])


def convert(
    qat_model, *, io_type="int8", model_name=None, preprocess=None, raw_shape=None
) -> bytes:
    """A fine-tuned QAT tf_keras model -> int8 TFLite with this package's stable names.

    With ``preprocess`` the file takes uint8 pixels ``[1, *raw_shape]`` and runs
    ``preprocess`` before the model (a raw-pixel file, see
    :mod:`keras_convnets.deploy.tflite`). The transform comes before the
    model's first fake-quant node, so its ops (resize, pad, normalisation)
    compute in float, then ``QUANTIZE`` enters the int8 graph.
    """
    import tensorflow as tf

    from keras_convnets.deploy import tflite

    if preprocess is None:
        spec = tf.TensorSpec((1, *qat_model.input_shape[1:]), tf.float32, name=tflite.INPUT_NAME)

        def serve(x):
            return {tflite.OUTPUT_NAME: qat_model(x, training=False)}
    else:
        spec = tf.TensorSpec((1, *raw_shape), tf.uint8, name=tflite.INPUT_NAME)

        def serve(x):
            return {tflite.OUTPUT_NAME: qat_model(preprocess(x), training=False)}

    module = tf.Module()
    module.model = qat_model
    module.serve = tf.function(serve, input_signature=[spec])
    with tempfile.TemporaryDirectory(prefix="kc_qat_src_") as tmp:
        with contextlib.redirect_stdout(None):
            tf.saved_model.save(module, tmp, signatures={tflite.SIGNATURE: module.serve})
        return tflite.convert_savedmodel(
            tmp, "qat", model=qat_model, io_type=io_type, raw=preprocess is not None
        )

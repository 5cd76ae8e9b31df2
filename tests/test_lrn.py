"""LocalResponseNormalization: numerics, the alpha convention, serialization, TFLite."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_convnets.models import layers as custom
from keras_convnets.models.layers import LocalResponseNormalization

ARGS = [
    (2, 1.0, 1e-4, 0.75),  # the layer's defaults
    (2, 1.0, 2e-5, 0.75),  # GoogLeNet's norm1/norm2 (Caffe alpha=1e-4, local_size=5)
    (1, 2.0, 1e-2, 0.5),
    (3, 0.5, 5e-3, 1.0),
    (0, 1.0, 1e-1, 0.75),
]


def _inputs(rng, channels=13):
    # Large values so that the normalization term matters (alpha * sum ~ 1).
    return (rng.normal(size=(2, 5, 4, channels)) * 10).astype("float32")


@pytest.mark.parametrize("depth_radius,bias,alpha,beta", ARGS)
def test_matches_tf_nn_local_response_normalization(rng, depth_radius, bias, alpha, beta):
    x = _inputs(rng)
    expected = tf.nn.local_response_normalization(
        x, depth_radius=depth_radius, bias=bias, alpha=alpha, beta=beta
    ).numpy()
    layer = LocalResponseNormalization(depth_radius, bias, alpha, beta)
    np.testing.assert_allclose(np.asarray(layer(x)), expected, atol=1e-5, rtol=0)
    assert not np.allclose(expected, x, atol=1e-3)  # the normalization did something
    twin = custom.tf_keras_layers().LocalResponseNormalization(depth_radius, bias, alpha, beta)
    np.testing.assert_allclose(twin(x).numpy(), expected, atol=1e-5, rtol=0)


def test_defaults():
    layer = LocalResponseNormalization()
    assert (layer.depth_radius, layer.bias, layer.alpha, layer.beta) == (2, 1.0, 1e-4, 0.75)
    layer.build((None, 4, 4, 8))
    assert layer.weights == []


def _caffe_lrn(x, local_size, alpha, beta, k=1.0):
    """Caffe's ACROSS_CHANNELS LRN: alpha is divided by local_size."""
    half = (local_size - 1) // 2
    channels = x.shape[-1]
    out = np.empty_like(x, dtype="float64")
    for c in range(channels):
        lo, hi = max(0, c - half), min(channels, c + half + 1)
        scale = k + alpha / local_size * np.sum(x[..., lo:hi].astype("float64") ** 2, axis=-1)
        out[..., c] = x[..., c] / scale**beta
    return out


def test_caffe_convention_is_alpha_over_local_size(rng):
    # GoogLeNet's Caffe LRN (local_size=5, alpha=1e-4) is depth_radius=2, alpha=2e-5 here.
    x = _inputs(rng) * 10
    caffe = _caffe_lrn(x, local_size=5, alpha=1e-4, beta=0.75)
    ours = np.asarray(LocalResponseNormalization(2, 1.0, 1e-4 / 5, 0.75)(x))
    np.testing.assert_allclose(ours, caffe, atol=1e-5, rtol=1e-5)
    # With Caffe's alpha taken per element the result is measurably different.
    wrong = np.asarray(LocalResponseNormalization(2, 1.0, 1e-4, 0.75)(x))
    assert np.abs(wrong - caffe).max() > 1e-2


def test_config_round_trip_and_keras_file(tmp_path, rng):
    layer = LocalResponseNormalization(3, 2.0, 1e-3, 0.5, name="norm")
    clone = LocalResponseNormalization.from_config(layer.get_config())
    assert (clone.depth_radius, clone.bias, clone.alpha, clone.beta) == (3, 2.0, 1e-3, 0.5)
    inputs = keras.Input((4, 4, 8))
    model = keras.Model(inputs, LocalResponseNormalization(3, 2.0, 1e-3, 0.5, name="norm")(inputs))
    path = tmp_path / "lrn.keras"
    model.save(path)
    loaded = keras.models.load_model(path, safe_mode=True)
    assert type(loaded.get_layer("norm")) is LocalResponseNormalization
    x = _inputs(rng, channels=8)[:, :4, :4]
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))


@pytest.mark.parametrize("bad", [-1, 1.5, True, "2"])
def test_bad_depth_radius(bad):
    with pytest.raises(ValueError, match="depth_radius"):
        LocalResponseNormalization(depth_radius=bad)


def test_converts_to_tflite(rng):
    from ai_edge_litert.interpreter import Interpreter

    inputs = keras.Input((8, 8, 3))
    x = keras.layers.Conv2D(16, 3, padding="same", name="conv")(inputs)
    x = LocalResponseNormalization(2, 1.0, 2e-2, 0.75, name="norm")(x)
    model = keras.Model(inputs, x)
    flatbuffer = tf.lite.TFLiteConverter.from_keras_model(model).convert()
    interpreter = Interpreter(model_content=flatbuffer)
    interpreter.allocate_tensors()
    x = (rng.normal(size=(1, 8, 8, 3)) * 5).astype("float32")
    interpreter.set_tensor(interpreter.get_input_details()[0]["index"], x)
    interpreter.invoke()
    got = interpreter.get_tensor(interpreter.get_output_details()[0]["index"])
    expected = model.predict(x, verbose=0)
    assert not np.allclose(expected, model.get_layer("conv")(x), atol=1e-3)
    np.testing.assert_allclose(got, expected, atol=1e-5, rtol=1e-5)
    # Builtin ops only: no Flex (SELECT_TF_OPS) delegate needed.
    op_names = {op["op_name"] for op in interpreter._get_ops_details()}
    assert not any(name.startswith("Flex") for name in op_names), op_names
